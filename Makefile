# Container image and chart checks.
#   make image         build the image (docker, or buildah when docker is missing)
#   make image-smoke   build it with buildah (vfs, chroot) from a Debian base made here with
#                      debootstrap, then run `taskraft --version` in it (optional, several minutes)
#   make chart-check   install helm and the chart tools, then run the offline chart tests
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

VERSION      ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
IMAGE        ?= taskraft:$(VERSION)
PYTHON_IMAGE ?= python:3.12-slim
TOOLS_BIN    ?= $(CURDIR)/.tools/bin
PYTHON       ?= $(if $(wildcard .venv/bin/python),.venv/bin/python,python3)

SMOKE_DIR    ?= $(CURDIR)/.cache/image-smoke
SMOKE_SUITE  ?= bookworm
SMOKE_MIRROR ?= http://deb.debian.org/debian
SMOKE_BASE   ?= localhost/taskraft-debian-base:$(SMOKE_SUITE)
SMOKE_IMAGE  ?= localhost/taskraft:smoke
# CA bundle mounted into the build's RUN steps (needed behind a TLS-intercepting proxy).
SMOKE_CA     ?= $(wildcard /etc/ssl/certs/ca-certificates.crt)
BUILDAH      := buildah --storage-driver vfs

.PHONY: image image-smoke chart-check

image:
	@if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then \
	  docker build --build-arg PYTHON_IMAGE=$(PYTHON_IMAGE) -t $(IMAGE) . ; \
	elif command -v buildah >/dev/null 2>&1; then \
	  buildah bud --build-arg PYTHON_IMAGE=$(PYTHON_IMAGE) -t $(IMAGE) . ; \
	else \
	  echo "make image: neither a running docker engine nor buildah is available" >&2; exit 1; \
	fi

image-smoke:
	@command -v buildah >/dev/null 2>&1 || { echo "image-smoke: buildah is missing (apt-get install buildah)" >&2; exit 1; }
	@command -v debootstrap >/dev/null 2>&1 || { echo "image-smoke: debootstrap is missing (apt-get install debootstrap); it makes the Debian base offline from the apt mirror" >&2; exit 1; }
	@[ "$$(id -u)" = 0 ] || { echo "image-smoke: debootstrap and buildah's chroot isolation need root" >&2; exit 1; }
	mkdir -p $(SMOKE_DIR)
	if [ ! -f $(SMOKE_DIR)/rootfs/.complete ]; then \
	  rm -rf $(SMOKE_DIR)/rootfs; \
	  debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
	    $(SMOKE_SUITE) $(SMOKE_DIR)/rootfs $(SMOKE_MIRROR) > $(SMOKE_DIR)/debootstrap.log 2>&1 \
	    || { tail -20 $(SMOKE_DIR)/debootstrap.log >&2; echo "image-smoke: debootstrap failed: no Debian base can be produced here" >&2; exit 1; }; \
	  touch $(SMOKE_DIR)/rootfs/.complete; \
	fi
	if ! $(BUILDAH) inspect --type image $(SMOKE_BASE) >/dev/null 2>&1; then \
	  tar -C $(SMOKE_DIR)/rootfs --exclude=./dev --exclude=./proc --exclude=./sys --exclude=./.complete \
	    --exclude=./var/cache/apt/archives -cf $(SMOKE_DIR)/rootfs.tar . ; \
	  ctr=$$($(BUILDAH) from scratch); \
	  $(BUILDAH) add $$ctr $(SMOKE_DIR)/rootfs.tar / ; \
	  $(BUILDAH) config --cmd '["/bin/bash"]' --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin $$ctr; \
	  $(BUILDAH) commit --rm $$ctr $(SMOKE_BASE) >/dev/null; \
	  rm -f $(SMOKE_DIR)/rootfs.tar; \
	fi
	$(BUILDAH) bud --isolation chroot --layers=false \
	  --build-arg PYTHON_IMAGE=$(SMOKE_BASE) \
	  $(if $(SMOKE_CA),-v $(SMOKE_CA):/run/build-ca.crt:ro --build-arg PIP_CERT=/run/build-ca.crt) \
	  -t $(SMOKE_IMAGE) .
	ctr=$$($(BUILDAH) from $(SMOKE_IMAGE)); \
	trap '$(BUILDAH) rm $$ctr >/dev/null' EXIT; \
	out=$$($(BUILDAH) run --isolation chroot $$ctr -- taskraft --version); \
	echo "$$out"; \
	echo "$$out" | grep -q "taskraft, version $(VERSION)"; \
	$(BUILDAH) run --isolation chroot --user 10001:10001 $$ctr -- python3 -c "import cryptography, taskraft.wsgi; print('imports ok as uid 10001')"; \
	echo "image-smoke: OK ($(SMOKE_IMAGE))"

chart-check:
	scripts/install-helm.sh $(TOOLS_BIN)
	PATH="$(TOOLS_BIN):$$PATH" scripts/install-chart-tools.sh $(TOOLS_BIN)
	PATH="$(TOOLS_BIN):$$PATH" HELM="$(TOOLS_BIN)/helm" $(PYTHON) -m pytest -p no:cacheprovider -q tests/chart
