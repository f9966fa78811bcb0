.PHONY: build run test vet fmt

build:
	go build -o mashangban ./cmd/mashangban

run:
	go run ./cmd/mashangban run

test:
	scripts/test.sh

vet:
	go vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')
