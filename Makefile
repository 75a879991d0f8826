# kvmnet: two commands for a fresh machine (as root):
#   make demo   install what is missing, build, start the sandbox host and
#               run playbooks/demo.yml against it twice
#   make test   every test (what CI runs)
.PHONY: demo test molecule lint sanity setup build collection release docs docs-site sandbox-up sandbox-down bench clean

demo: setup collection sandbox-up
	scripts/demo.sh

test:
	tests/run-all.sh

# The Molecule scenarios (molecule/README.md): all, or the ones named,
#   make molecule SCENARIO="vlan-bridges sriov"
# Create brings up the sandbox host or the guest VM as a scenario needs.
molecule: setup collection
	tests/ansible/test-molecule.sh $(SCENARIO)

lint: setup collection
	tests/ansible/lint.sh

# ansible-test sanity on ansible-core 2.19 and 2.21, the changelog, the
# generated reference pages and the docs site, on the built tarball.
sanity: setup collection
	KVMNET_SKIP_BUILD=1 tests/ansible/docs-and-sanity.sh

setup:
	scripts/setup-host.sh

build: setup
	cargo build --release --locked

collection: setup
	scripts/build-collection.sh

# The Galaxy tarball from a clean tree, every architecture, installed and
# run by FQCN before it is called done (scripts/release.sh).
release: setup
	scripts/release.sh

docs: setup
	scripts/gen-docs.sh
	scripts/docs-reference.sh

# The collection's documentation site (antsibull-docs + Sphinx), offline,
# into .build/docs-site/build/html.
docs-site: setup collection
	scripts/docs-site.sh

sandbox-up: setup
	tests/rig/sandbox.sh up

sandbox-down:
	tests/rig/sandbox.sh down

bench: setup collection
	scripts/bench.sh

clean:
	cargo clean
	rm -rf dist .build
