#!/bin/sh
# Runs inside the kernel tier's guest (see scripts/kernel-tier), as root, in
# the repository: loads what netdevsim needs and runs tests/ovn_vif_representor/kernel with
# pytest once. Its exit status is pytest's.
set -u
echo "guest: $(uname -r), $(nproc) CPU(s)"
# netdevsim depends on psample; the tests insmod netdevsim themselves
# (stock or patched), which does not resolve dependencies.
modprobe psample || { echo "guest: modprobe psample failed" >&2; exit 125; }
# The tests fall back to OVS's dummy datapath if this fails.
if modprobe openvswitch; then
    echo "guest: OVS kernel datapath available"
else
    echo "guest: modprobe openvswitch failed: the dummy datapath is used" >&2
fi
cd "$(dirname "$0")/../../.." || exit 125
exec "$OVN_VIF_KERNEL_PYTHON" -m pytest tests/ovn_vif_representor/kernel -m kernel -p no:cacheprovider \
    --junitxml="$OVN_VIF_KERNEL_OUT/junit.xml" -o junit_family=xunit2 --durations=15 "$@"
