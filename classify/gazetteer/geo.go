package gazetteer

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/mashangban/mashangban/model"
)

// The district boundaries of 马鞍山市 in GCJ-02 (DataV GeoAtlas); see
// data/PROVENANCE.md.
//
//go:embed data/maanshan_districts.geojson
var districtsGeoJSON []byte

// shape is one district's boundary: polygons of rings (outer ring first,
// then holes), each ring a list of [lon, lat].
type shape struct {
	code                   string
	polygons               [][][][2]float64
	minX, minY, maxX, maxY float64
}

var shapes = sync.OnceValues(func() ([]shape, error) { return parseShapes(districtsGeoJSON) })

func parseShapes(data []byte) ([]shape, error) {
	var fc struct {
		Features []struct {
			Properties struct {
				Adcode json.Number `json:"adcode"`
			} `json:"properties"`
			Geometry struct {
				Type        string          `json:"type"`
				Coordinates json.RawMessage `json:"coordinates"`
			} `json:"geometry"`
		} `json:"features"`
	}
	if err := json.Unmarshal(data, &fc); err != nil {
		return nil, fmt.Errorf("parse district boundaries: %w", err)
	}
	var out []shape
	for _, f := range fc.Features {
		s := shape{code: f.Properties.Adcode.String(), minX: math.Inf(1), minY: math.Inf(1), maxX: math.Inf(-1), maxY: math.Inf(-1)}
		switch f.Geometry.Type {
		case "MultiPolygon":
			if err := json.Unmarshal(f.Geometry.Coordinates, &s.polygons); err != nil {
				return nil, fmt.Errorf("district %s boundary: %w", s.code, err)
			}
		case "Polygon":
			var p [][][2]float64
			if err := json.Unmarshal(f.Geometry.Coordinates, &p); err != nil {
				return nil, fmt.Errorf("district %s boundary: %w", s.code, err)
			}
			s.polygons = [][][][2]float64{p}
		default:
			return nil, fmt.Errorf("district %s: unsupported geometry %q", s.code, f.Geometry.Type)
		}
		for _, p := range s.polygons {
			for _, ring := range p {
				for _, pt := range ring {
					s.minX, s.maxX = math.Min(s.minX, pt[0]), math.Max(s.maxX, pt[0])
					s.minY, s.maxY = math.Min(s.minY, pt[1]), math.Max(s.maxY, pt[1])
				}
			}
		}
		out = append(out, s)
	}
	return out, nil
}

func (s *shape) contains(lon, lat float64) bool {
	if lon < s.minX || lon > s.maxX || lat < s.minY || lat > s.maxY {
		return false
	}
	for _, p := range s.polygons {
		in := false
		// Even-odd over all rings of the polygon: a point in a hole is out.
		for _, ring := range p {
			if inRing(ring, lon, lat) {
				in = !in
			}
		}
		if in {
			return true
		}
	}
	return false
}

// inRing is the ray-casting test: count crossings of a ray to the east.
func inRing(ring [][2]float64, x, y float64) bool {
	in := false
	for i, j := 0, len(ring)-1; i < len(ring); j, i = i, i+1 {
		xi, yi := ring[i][0], ring[i][1]
		xj, yj := ring[j][0], ring[j][1]
		if (yi > y) != (yj > y) && x < (xj-xi)*(y-yi)/(yj-yi)+xi {
			in = !in
		}
	}
	return in
}

// Locate returns the code of the district whose boundary holds the point.
// The point is GCJ-02 unless geo.System says "wgs84" or "bd09"; other
// systems, a nil geo and out-of-range coordinates find nothing.
func (g *Gazetteer) Locate(geo *model.Geo) (string, bool) {
	if geo == nil || math.IsNaN(geo.Lat) || math.IsNaN(geo.Lon) ||
		geo.Lat < -90 || geo.Lat > 90 || geo.Lon < -180 || geo.Lon > 180 || (geo.Lat == 0 && geo.Lon == 0) {
		return "", false
	}
	lon, lat := geo.Lon, geo.Lat
	switch strings.ToLower(geo.System) {
	case "", "gcj02", "gcj-02":
	case "wgs84", "wgs-84":
		lon, lat = WGS84ToGCJ02(lon, lat)
	case "bd09", "bd-09":
		lon, lat = BD09ToGCJ02(lon, lat)
	default:
		return "", false
	}
	ss, err := shapes()
	if err != nil {
		return "", false
	}
	for i := range ss {
		if ss[i].contains(lon, lat) {
			return ss[i].code, true
		}
	}
	return "", false
}

// The Krasovsky 1940 ellipsoid that GCJ-02 is defined on.
const (
	krasovskyA  = 6378245.0
	krasovskyEE = 0.00669342162296594323
)

// outOfChina: GCJ-02 leaves points outside China's bounding box unshifted.
func outOfChina(lon, lat float64) bool {
	return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271
}

// WGS84ToGCJ02 converts a GPS (WGS-84) point to GCJ-02 with the standard
// published approximation (accurate to a metre or two).
func WGS84ToGCJ02(lon, lat float64) (float64, float64) {
	if outOfChina(lon, lat) {
		return lon, lat
	}
	x, y := lon-105.0, lat-35.0
	dLat := -100.0 + 2.0*x + 3.0*y + 0.2*y*y + 0.1*x*y + 0.2*math.Sqrt(math.Abs(x))
	dLat += (20.0*math.Sin(6.0*x*math.Pi) + 20.0*math.Sin(2.0*x*math.Pi)) * 2.0 / 3.0
	dLat += (20.0*math.Sin(y*math.Pi) + 40.0*math.Sin(y/3.0*math.Pi)) * 2.0 / 3.0
	dLat += (160.0*math.Sin(y/12.0*math.Pi) + 320*math.Sin(y*math.Pi/30.0)) * 2.0 / 3.0
	dLon := 300.0 + x + 2.0*y + 0.1*x*x + 0.1*x*y + 0.1*math.Sqrt(math.Abs(x))
	dLon += (20.0*math.Sin(6.0*x*math.Pi) + 20.0*math.Sin(2.0*x*math.Pi)) * 2.0 / 3.0
	dLon += (20.0*math.Sin(x*math.Pi) + 40.0*math.Sin(x/3.0*math.Pi)) * 2.0 / 3.0
	dLon += (150.0*math.Sin(x/12.0*math.Pi) + 300.0*math.Sin(x/30.0*math.Pi)) * 2.0 / 3.0
	radLat := lat / 180.0 * math.Pi
	magic := math.Sin(radLat)
	magic = 1 - krasovskyEE*magic*magic
	sqrtMagic := math.Sqrt(magic)
	dLat = (dLat * 180.0) / ((krasovskyA * (1 - krasovskyEE)) / (magic * sqrtMagic) * math.Pi)
	dLon = (dLon * 180.0) / (krasovskyA / sqrtMagic * math.Cos(radLat) * math.Pi)
	return lon + dLon, lat + dLat
}

// BD09ToGCJ02 converts a Baidu (BD-09) point to GCJ-02.
func BD09ToGCJ02(lon, lat float64) (float64, float64) {
	const xPi = math.Pi * 3000.0 / 180.0
	x, y := lon-0.0065, lat-0.006
	z := math.Sqrt(x*x+y*y) - 0.00002*math.Sin(y*xPi)
	theta := math.Atan2(y, x) - 0.000003*math.Cos(x*xPi)
	return z * math.Cos(theta), z * math.Sin(theta)
}
