.PHONY: test run worker build check

# Run every test (starts PostgreSQL if it is down).
test:
	bash scripts/test.sh

# Static checks CI runs before the tests.
check:
	gofmt -l $$(git ls-files '*.go')
	go vet ./...
	go tool workflowcheck ./workflows/...

build:
	go build -o bin/syncloop ./starter
	go build -o bin/syncloop-worker ./worker
