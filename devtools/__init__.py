"""Development tooling: embedded servers, the `make dev` runner, demo data. Never imported by the service."""
