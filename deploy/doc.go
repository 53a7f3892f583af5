// Package deploy holds the container deployment of syncloop — the files
// docker-compose.yml and the Dockerfile use (democrm/, healthcheck/,
// temporal/, postgres/, .env.example) — and the tests that check
// docker-compose.yml, the Dockerfile and .env.example against each other
// and against the code without a Docker engine.
package deploy
