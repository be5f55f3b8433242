"""Project tooling around the constructs: values files, synth, checks, diff, Helm export."""
