#!/usr/bin/env bash
# CI step: kgfm as a user gets it. Builds the sdist and the wheel from it (as pip does with an sdist),
# checks the sdist carries the samples, installs the wheel (not editable) into a fresh venv,
# and runs the quick path from an empty folder outside the repository: the version, `kgfm init`,
# the sample graph built and queried, and the README's Python block (tests/readme_python.py extracts it).
# Usage: bash scripts/wheel_check.sh [WORKDIR]   (default: a new temp folder, removed on success)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD
WORK=${1:-$(mktemp -d -t kgfm-wheel.XXXXXX)}
export PIP_DISABLE_PIP_VERSION_CHECK=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
step() { printf '[wheel] %s\n' "$*"; }
step "building the sdist and, from it, the wheel into $WORK/dist"
python3 -m venv "$WORK/build-env"
"$WORK/build-env/bin/python" -m pip install -q build
# sdist first, then the wheel built from it (what pip does with an sdist): both must carry the samples
"$WORK/build-env/bin/python" -m build -q --outdir "$WORK/dist" "$REPO" >/dev/null
sdist_files=$(tar tzf "$WORK"/dist/kgfm-*.tar.gz)
for f in quickstart.ipynb configs/graph.yaml configs/metaqa_relation_templates_v2.tsv graphs/movies_kb.txt graphs/bad/syntax_error.ttl; do
  grep -q "/$f\$" <<<"$sdist_files" || { echo "[wheel] FAIL: the sdist lacks the sample $f (MANIFEST.in)"; exit 1; }
done
# the Docker image installs from the files its COPY lines name before `pip install`: a wheel built from
# exactly those must carry the samples too (docker itself is not on the CI machine)
step "building a wheel from the files docker/Dockerfile copies before its pip install"
"$WORK/build-env/bin/python" - "$REPO" "$WORK/docker-context" <<'PY'
import shlex, shutil, sys
from pathlib import Path
repo, ctx = Path(sys.argv[1]), Path(sys.argv[2])
for line in (repo / "docker" / "Dockerfile").read_text().splitlines():
    if line.startswith('RUN pip install ".'):  # the kgfm install: what it sees is copied by now
        break
    if line.startswith("COPY "):
        *sources, dest = [w for w in shlex.split(line)[1:] if not w.startswith("--")]
        for src in sources:
            target = ctx / Path(src).name if dest.endswith("/") else ctx / dest
            target.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if (repo / src).is_dir() else shutil.copy2)(repo / src, target)
else:
    sys.exit("[wheel] FAIL: docker/Dockerfile has no RUN pip install \".[...]\" line")
PY
"$WORK/build-env/bin/python" -m build -q --wheel --outdir "$WORK/docker-dist" "$WORK/docker-context" >/dev/null
docker_wheel=$("$WORK/build-env/bin/python" -c 'import sys, zipfile; print("\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))' "$WORK"/docker-dist/kgfm-*.whl)
for f in quickstart.ipynb configs/graph.yaml graphs/movies_kb.txt; do
  grep -q "^kgfm/_samples/$f\$" <<<"$docker_wheel" || { echo "[wheel] FAIL: the Docker image's wheel lacks the sample $f (docker/Dockerfile COPY lines)"; exit 1; }
done
WHEEL=$(ls "$WORK"/dist/kgfm-*.whl)
step "installing $(basename "$WHEEL") into a fresh venv"
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install -q "${KGFM_TORCH:-torch==2.13.0}"
"$WORK/venv/bin/python" -m pip install -q "$WHEEL[serve]"  # the README block serves over HTTP (step 6)
mkdir -p "$WORK/user"
cd "$WORK/user"
KGFM="$WORK/venv/bin/kgfm"
step "running from $(pwd) (outside the repository)"
where=$("$WORK/venv/bin/python" -c "import kgfm, pathlib; print(pathlib.Path(kgfm.__file__).parent)")
case "$where" in "$REPO"*) echo "[wheel] FAIL: kgfm imported from the checkout ($where)"; exit 1;; esac
"$KGFM" --version
"$KGFM" init .
test -f quickstart.ipynb || { echo "[wheel] FAIL: kgfm init wrote no quickstart.ipynb"; exit 1; }
"$KGFM" build-graph sample:movies_kb.txt --path .kgfm/graph.lbug
"$KGFM" cypher 'MATCH (m:Entity)-[:directed_by]->(d:Entity) RETURN d.name AS director, count(m) AS films ORDER BY films DESC, director LIMIT 3' --path .kgfm/graph.lbug
"$KGFM" stats --path .kgfm/graph.lbug --top 3 >/dev/null
# the relation wordings the MetaQA pretraining config and the demo name ship with `kgfm init`
"$KGFM" corpus --path .kgfm/graph.lbug --out corpus --no-descriptions \
    --relation-text configs/metaqa_relation_templates_v2.tsv
"$KGFM" build-graph graphs/movies.ttl --path .kgfm/rdf.lbug
"$KGFM" export --path .kgfm/rdf.lbug --format nt -o movies.nt
if [ "${KGFM_WHEEL_SKIP_PYTHON_BLOCK:-0}" = 1 ]; then
  step "README's Python block skipped (KGFM_WHEEL_SKIP_PYTHON_BLOCK=1; CI never sets it)"
else
  step "README's Python block (in a fresh empty folder)"
  mkdir -p "$WORK/user-python" && cd "$WORK/user-python"
  KGFM_PROGRESS=log "$WORK/venv/bin/python" "$REPO/tests/readme_python.py" "$REPO/README.md" --run
fi
step "OK: wheel installed and ran from $WORK/user"
if [ $# -eq 0 ]; then rm -rf "$WORK"; fi
