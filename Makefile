# pod-hardener: build, test and deploy. `make` (or `make help`) lists the targets.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c

# Image built by `make image`; the manifests reference pod-hardener:0.1.0 (kustomize `images:`).
IMAGE ?= pod-hardener:0.1.0
# What `make deploy` and `make undeploy` apply: manifests/base or manifests/overlays/<name>.
KUSTOMIZE_DIR ?= manifests/base
KUBECTL ?= kubectl
# docker if it is on PATH, else podman; override with CONTAINER_TOOL=...
CONTAINER_TOOL ?= $(shell command -v docker 2>/dev/null || command -v podman 2>/dev/null)
# The base and every overlay, for `make manifests`.
KUSTOMIZATIONS := manifests/base $(patsubst %/kustomization.yaml,%,$(wildcard manifests/overlays/*/kustomization.yaml))

.PHONY: help build test lint e2e bench run image deploy undeploy manifests cluster cluster-down

help: ## List the targets
	@echo "Usage: make <target> [IMAGE=$(IMAGE)] [KUSTOMIZE_DIR=$(KUSTOMIZE_DIR)]"
	@awk 'BEGIN { FS = ":.*## " } /^[a-z][a-z0-9-]*:.*## / { printf "  %-13s %s\n", $$1, $$2 }' $(firstword $(MAKEFILE_LIST))

build: ## Compile TypeScript to dist/ (npm run build)
	npm run build

test: ## Type check, lint and unit tests (npm test)
	npm test

lint: ## ESLint and Prettier (npm run lint)
	npm run lint

e2e: ## End-to-end tests against a real API server (npm run test:e2e)
	npm run test:e2e

cluster: build ## Start a one-node cluster (root; offline) with the webhook deployed; prints export KUBECONFIG=...
	npx tsx test/e2e/node/cluster.ts

cluster-down: ## Stop what make cluster started and undo its host changes
	bash test/e2e/node/cluster.sh down

bench: ## Benchmarks (npm run bench)
	npm run bench

run: ## Build and serve on https://127.0.0.1:8443 with a self-signed certificate (npm start)
	npm start

image: ## Build the container image IMAGE with docker or podman
	@if [ -z "$(CONTAINER_TOOL)" ]; then \
	  echo "make image: neither docker nor podman is on PATH (or set CONTAINER_TOOL=...)" >&2; exit 1; \
	fi
	$(CONTAINER_TOOL) build -t $(IMAGE) .

deploy: ## kubectl apply -k KUSTOMIZE_DIR
	$(KUBECTL) apply -k $(KUSTOMIZE_DIR)

# The webhook configuration goes first: with the Deployment gone and failurePolicy Fail it would
# refuse every pod in opted-in namespaces.
undeploy: ## Delete what deploy created, the webhook configuration first
	$(KUBECTL) delete mutatingwebhookconfiguration pod-hardener --ignore-not-found
	$(KUBECTL) delete -k $(KUSTOMIZE_DIR) --ignore-not-found

manifests: ## Render the base and every overlay with kubectl kustomize; fail if any does not render
	@status=0; \
	for dir in $(KUSTOMIZATIONS); do \
	  if out="$$($(KUBECTL) kustomize "$$dir")"; then \
	    printf "%-40s %s objects\n" "$$dir" "$$(grep -c "^kind:" <<<"$$out")"; \
	  else \
	    echo "$$dir: kubectl kustomize failed" >&2; status=1; \
	  fi; \
	done; \
	exit $$status
