# Sourced by tests/compat/fate_client.sh and scripts/conformance.sh.
#
# fate_client_venv VENV VERSION LOGDIR: makes VENV hold fate-client VERSION (and
# urllib3<2, which it needs), reusing it when it already does. Returns 0 when ready,
# 2 when it must install but PyPI is unreachable, 1 on another failure (pip's output in
# LOGDIR/pip.out).
fate_client_venv() {
    local venv=$1 version=$2 logdir=$3
    if [[ -x "$venv/bin/flow" && "$(cat "$venv/.fateflow-compat" 2>/dev/null)" == "$version" ]]; then
        echo "reusing the venv $venv"
        return 0
    fi
    rm -rf "$venv"
    python3 -m venv "$venv" >"$logdir/pip.out" 2>&1 || return 1
    if ! "$venv/bin/pip" install --disable-pip-version-check -q \
        "fate-client==$version" "urllib3<2" >>"$logdir/pip.out" 2>&1; then
        local index=${PIP_INDEX_URL:-https://pypi.org/simple}
        rm -rf "$venv"
        if ! python3 - "$index" >/dev/null 2>&1 <<'PY'; then
import sys, urllib.request
urllib.request.urlopen(sys.argv[1].rstrip("/") + "/fate-client/", timeout=15).read(1)
PY
            return 2
        fi
        return 1
    fi
    echo "$version" >"$venv/.fateflow-compat"
}
