# Data for bench/feature.sh: N rows of id, x0..x19 (about 5 % of the cells missing);
# with shift > 0 every value moves by shift (the "actual" table of PSI); with
# categories = 1, integers 0..9 and nothing missing (the one-hot table).
# Usage: awk -v n=N -v shift=S -v seed=K [-v categories=1] -f gen.awk > file.csv
BEGIN {
  srand(seed)
  printf "id"
  for (j = 0; j < 20; j++) printf ",x%d", j
  printf "\n"
  for (i = 0; i < n; i++) {
    line = i
    for (j = 0; j < 20; j++) {
      if (categories) line = line "," int(rand() * 10)
      else if (rand() < 0.05) line = line ","
      else line = line sprintf(",%.4f", (rand() + rand() + rand() - 1.5) * (j + 1) + shift)
    }
    print line
  }
}
