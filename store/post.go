package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mashangban/mashangban/model"
)

// InsertPost records p once. inserted is false when a post with the same ID
// is already stored; the stored copy is kept as it was. q is the pool or a
// transaction (nil means the pool).
func (s *Store) InsertPost(ctx context.Context, q Querier, p model.Post) (inserted bool, err error) {
	if p.ID == "" {
		return false, errors.New("insert post: empty post id")
	}
	var images any
	if len(p.Images) > 0 {
		b, err := json.Marshal(p.Images)
		if err != nil {
			return false, fmt.Errorf("insert post %q: %w", p.ID, err)
		}
		images = string(b)
	}
	var lat, lon, system any
	if p.Geo != nil {
		lat, lon, system = p.Geo.Lat, p.Geo.Lon, p.Geo.System
	}
	var raw any
	if len(p.Raw) > 0 {
		raw = string(p.Raw)
	}
	// Two consumers (a redelivery, or two replicas after a rebalance) may
	// insert the same post at once; ON CONFLICT DO NOTHING lets exactly one
	// win and tells the other it lost, without an error or a duplicate.
	n, err := s.querier(q).Exec(ctx, `
		INSERT INTO posts (
			post_id, source, channel, native_id, author_id, author_name,
			text, images, geo_lat, geo_lon, geo_system, region,
			created_at, fetched_at, url, raw, inserted_at
		)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
		ON CONFLICT (post_id) DO NOTHING`,
		p.ID, p.Source, string(p.Channel), p.NativeID, p.Author.ID, p.Author.Name,
		p.Text, images, lat, lon, system, p.Region,
		p.CreatedAt, p.FetchedAt, p.URL, raw, s.now())
	if err != nil {
		return false, fmt.Errorf("insert post %q: %w", p.ID, err)
	}
	return n == 1, nil
}

// PostText returns the stored text of a post, or ErrNotFound. q is the pool
// or a transaction (nil means the pool).
func (s *Store) PostText(ctx context.Context, q Querier, id string) (string, error) {
	var text string
	err := s.querier(q).QueryRow(ctx, `
		SELECT text
		FROM posts
		WHERE post_id = $1`, id).Scan(&text)
	if err != nil {
		return "", fmt.Errorf("post text %q: %w", id, err)
	}
	return text, nil
}

// GetPost returns the stored post, or ErrNotFound.
func (s *Store) GetPost(ctx context.Context, id string) (model.Post, error) {
	var (
		p           model.Post
		channel     string
		images, raw *string
		lat, lon    *float64
		system      *string
	)
	err := s.DB.QueryRow(ctx, `
		SELECT post_id, source, channel, native_id, author_id, author_name,
		       text, images, geo_lat, geo_lon, geo_system, region,
		       created_at, fetched_at, url, raw
		FROM posts
		WHERE post_id = $1`, id).Scan(
		&p.ID, &p.Source, &channel, &p.NativeID, &p.Author.ID, &p.Author.Name,
		&p.Text, &images, &lat, &lon, &system, &p.Region,
		&p.CreatedAt, &p.FetchedAt, &p.URL, &raw)
	if err != nil {
		return model.Post{}, fmt.Errorf("get post %q: %w", id, err)
	}
	p.Channel = model.Channel(channel)
	if images != nil {
		if err := json.Unmarshal([]byte(*images), &p.Images); err != nil {
			return model.Post{}, fmt.Errorf("get post %q: images: %w", id, err)
		}
	}
	if lat != nil && lon != nil {
		p.Geo = &model.Geo{Lat: *lat, Lon: *lon}
		if system != nil {
			p.Geo.System = *system
		}
	}
	if raw != nil {
		p.Raw = json.RawMessage(*raw)
	}
	return p, nil
}
