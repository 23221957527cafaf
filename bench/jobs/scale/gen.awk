# Synthetic hetero data for bench/scale.sh: ids 0..1.2N-1; the guest holds ids 0..N-1
# (id, y, x0..x9), the host ids 0.2N..1.2N-1 (id, x0..x19), so 80 % overlap. The label
# depends on features of both parties, so a joint model beats either alone.
# Usage: awk -v n=N -v guest=FILE -v host=FILE -f gen.awk
function g() { return (rand() + rand() + rand() + rand() - 2) * 1.7 }
BEGIN {
  srand(19)
  printf "id,y" > guest
  for (j = 0; j < 10; j++) printf ",x%d", j > guest
  printf "\n" > guest
  printf "id" > host
  for (j = 0; j < 20; j++) printf ",x%d", j > host
  printf "\n" > host
  lo = int(0.2 * n); hi = lo + n
  for (i = 0; i < hi; i++) {
    s = 0
    line = ""
    for (j = 0; j < 10; j++) { v = g(); gx[j] = v; if (j < 3) s += v; line = line sprintf(",%.4f", v) }
    hline = ""
    for (j = 0; j < 20; j++) { v = g(); if (j < 3) s -= 0.8 * v; hline = hline sprintf(",%.4f", v) }
    y = (s + g() > 0) ? 1 : 0
    if (i < n) print i "," y line > guest
    if (i >= lo) print i hline > host
  }
}
