package public_test

import (
	"encoding/json"
	"encoding/xml"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

func TestOpen311Services(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.OpenSQLite(t))
	rec := f.get(t, "/open311/v2/services.json")
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("services: %d %v", rec.Code, rec.Header())
	}
	var svcs []map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &svcs); err != nil {
		t.Fatal(err)
	}
	rs := defaultRules(t)
	if len(svcs) != len(rs.Categories) {
		t.Errorf("%d services, the rule set has %d categories", len(svcs), len(rs.Categories))
	}
	found := false
	for _, s := range svcs {
		for _, k := range []string{"service_code", "service_name", "description", "metadata", "type", "keywords", "group"} {
			if _, ok := s[k]; !ok {
				t.Errorf("service %v lacks %s", s["service_code"], k)
			}
		}
		if s["service_code"] == "stairwell" {
			found = true
			if s["service_name"] != "楼道与门窗" || s["group"] != "城乡建设" || s["metadata"] != false || s["type"] != "realtime" || s["description"] != "楼道与门窗" {
				t.Errorf("stairwell = %v", s)
			}
		}
		if s["service_code"] == "urban" && s["description"] != "城乡建设（通常由市住房和城乡建设局办理）" {
			t.Errorf("urban = %v", s)
		}
	}
	if !found {
		t.Error("no stairwell service")
	}
}

type request311 map[string]any

func (f *fixture) requests(t *testing.T, path string) []request311 {
	t.Helper()
	rec := f.get(t, path)
	if rec.Code != 200 {
		t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
	}
	noSecrets(t, path, rec.Body.String())
	var out []request311
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func ids(rs []request311) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r["service_request_id"].(string))
	}
	return out
}

func TestOpen311Requests(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		all := f.requests(t, "/open311/v2/requests.json")
		if !slices.Equal(ids(all), []string{f.other, f.caseNo}) {
			t.Fatalf("requests = %v, want newest first [%s %s]", ids(all), f.other, f.caseNo)
		}
		closed := all[1]
		want := map[string]any{
			"service_request_id": f.caseNo, "status": "closed", "status_notes": "已办结", "service_name": "楼道与门窗",
			"service_code": "stairwell", "agency_responsible": "花山区城市管理局", "address": "花山区 阳湖花园",
			"requested_datetime": "2026-11-26T09:00:00+08:00", "updated_datetime": "2026-11-26T13:30:00+08:00",
		}
		for k, v := range want {
			if closed[k] != v {
				t.Errorf("%s = %v, want %v", k, closed[k], v)
			}
		}
		if d := closed["description"].(string); !strings.Contains(d, "阳湖花园3栋楼道窗户脱落") || !strings.Contains(d, "138****5678") {
			t.Errorf("description = %q", d)
		}
		for _, k := range []string{"lat", "long", "media_url", "expected_datetime"} {
			if _, ok := closed[k]; ok {
				t.Errorf("closed request has %s", k)
			}
		}
		if all[0]["expected_datetime"] != "2026-12-03T13:30:00+08:00" || all[0]["agency_responsible"] != "雨山区城市管理局" || all[0]["status_notes"] != "待签收" {
			t.Errorf("open request = %v", all[0])
		}

		for _, tc := range []struct {
			query string
			want  []string
		}{
			{"status=open", []string{f.other}},
			{"status=closed", []string{f.caseNo}},
			{"status=open,closed", []string{f.other, f.caseNo}},
			{"service_code=stairwell", []string{f.caseNo}},
			{"service_code=streetlight,noise", []string{f.other}},
			{"start_date=" + url.QueryEscape("2026-11-26T12:00:00+08:00"), []string{f.other}},
			{"end_date=" + url.QueryEscape("2026-11-26T12:00:00+08:00"), []string{f.caseNo}},
			{"start_date=2026-12-01T00:00:00Z", nil},
			{"service_request_id=" + f.caseNo + "," + strings.ToLower(f.other), []string{f.other, f.caseNo}},
			{"page_size=1", []string{f.other}},
			{"page_size=1&page=2", []string{f.caseNo}},
			{"page_size=1&page=3", nil},
			{"jurisdiction_id=maanshan&extensions=true", []string{f.other, f.caseNo}},
		} {
			if got := ids(f.requests(t, "/open311/v2/requests.json?"+tc.query)); !slices.Equal(got, tc.want) {
				t.Errorf("?%s: %v, want %v", tc.query, got, tc.want)
			}
		}
		// Without dates, the last 90 days.
		f.clk.Add(91 * 24 * time.Hour)
		if got := f.requests(t, "/open311/v2/requests.json"); len(got) != 0 {
			t.Errorf("91 days later the default window still lists %v", ids(got))
		}

		one := f.requests(t, "/open311/v2/requests/"+f.caseNo+".json")
		if len(one) != 1 || one[0]["service_request_id"] != f.caseNo || one[0]["agency_responsible"] != "花山区城市管理局" {
			t.Errorf("request %s = %v", f.caseNo, one)
		}
	})
}

func TestOpen311Errors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.OpenSQLite(t))
	for _, tc := range []struct {
		path string
		code int
		want string
	}{
		{"/open311/v2/requests/MSB-20991231-0001.json", 404, "no service request MSB-20991231-0001"},
		{"/open311/v2/requests/nonsense.json", 400, "not a service_request_id"},
		{"/open311/v2/requests/" + f.caseNo, 404, "use requests/{service_request_id}.json or .xml"},
		{"/open311/v2/nothing.json", 404, "no such Open311 resource"},
		{"/open311/v2/requests.json?status=pending", 400, "status must be open, closed"},
		{"/open311/v2/requests.json?start_date=yesterday", 400, "start_date must be a W3C date"},
		{"/open311/v2/requests.json?start_date=2026-11-27T00:00:00Z&end_date=2026-11-26T00:00:00Z", 400, "end_date is before start_date"},
		{"/open311/v2/requests.json?page_size=0", 400, "page_size must be a number from 1 to 200"},
		{"/open311/v2/requests.json?page_size=201", 400, "page_size"},
		{"/open311/v2/requests.json?page=0", 400, "page must be"},
		{"/open311/v2/requests.json?page_size=10&page=1002", 400, "narrow the dates"},
		{"/open311/v2/requests.json?service_request_id=x", 400, "not a service_request_id"},
	} {
		rec := f.get(t, tc.path)
		var errs []struct {
			Code        int
			Description string
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &errs); err != nil {
			t.Errorf("GET %s: not the Open311 error format: %v: %s", tc.path, err, rec.Body)
			continue
		}
		if rec.Code != tc.code || len(errs) != 1 || errs[0].Code != tc.code || !strings.Contains(errs[0].Description, tc.want) {
			t.Errorf("GET %s: %d %+v, want %d with %q", tc.path, rec.Code, errs, tc.code, tc.want)
		}
	}
	req := f.get(t, "/open311/v2/requests.json")
	if req.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Error("no nosniff header")
	}
	// Errors of an XML resource come in XML.
	rec := f.get(t, "/open311/v2/requests.xml?status=pending")
	var xerrs struct {
		XMLName xml.Name `xml:"errors"`
		Errors  []struct {
			Code        int    `xml:"code"`
			Description string `xml:"description"`
		} `xml:"error"`
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &xerrs); err != nil || rec.Code != 400 || len(xerrs.Errors) != 1 ||
		xerrs.Errors[0].Code != 400 || !strings.Contains(xerrs.Errors[0].Description, "status must be") {
		t.Errorf("XML error: %d %v %s", rec.Code, err, rec.Body)
	}
}

func TestOpen311XML(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.OpenSQLite(t))
	rec := f.get(t, "/open311/v2/requests.xml?status=closed")
	body := rec.Body.String()
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/xml; charset=utf-8") ||
		!strings.HasPrefix(body, `<?xml version="1.0" encoding="UTF-8"?>`) {
		t.Fatalf("requests.xml: %d %v %s", rec.Code, rec.Header(), body)
	}
	noSecrets(t, "requests.xml", body)
	var reqs struct {
		XMLName  xml.Name `xml:"service_requests"`
		Requests []struct {
			ID          string `xml:"service_request_id"`
			Status      string `xml:"status"`
			Agency      string `xml:"agency_responsible"`
			Description string `xml:"description"`
			Lat         string `xml:"lat"`
		} `xml:"request"`
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &reqs); err != nil {
		t.Fatal(err)
	}
	if len(reqs.Requests) != 1 || reqs.Requests[0].ID != f.caseNo || reqs.Requests[0].Status != "closed" ||
		reqs.Requests[0].Agency != "花山区城市管理局" || !strings.Contains(reqs.Requests[0].Description, "138****5678") || reqs.Requests[0].Lat != "" {
		t.Errorf("requests.xml = %+v", reqs)
	}
	rec = f.get(t, "/open311/v2/requests/"+f.other+".xml")
	reqs.Requests = nil
	if err := xml.Unmarshal(rec.Body.Bytes(), &reqs); err != nil || len(reqs.Requests) != 1 || reqs.Requests[0].ID != f.other {
		t.Errorf("request %s.xml: %v %s", f.other, err, rec.Body)
	}
	rec = f.get(t, "/open311/v2/services.xml")
	var svcs struct {
		XMLName  xml.Name `xml:"services"`
		Services []struct {
			Code  string `xml:"service_code"`
			Name  string `xml:"service_name"`
			Group string `xml:"group"`
		} `xml:"service"`
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &svcs); err != nil || len(svcs.Services) != len(defaultRules(t).Categories) {
		t.Fatalf("services.xml: %v, %d services", err, len(svcs.Services))
	}
	if !slices.ContainsFunc(svcs.Services, func(s struct {
		Code  string `xml:"service_code"`
		Name  string `xml:"service_name"`
		Group string `xml:"group"`
	}) bool {
		return s.Code == "streetlight" && s.Name == "路灯照明" && s.Group == "城乡建设"
	}) {
		t.Errorf("services.xml lacks streetlight: %+v", svcs.Services)
	}
}
