#!/bin/sh
# Copies standard input to standard output and to the next free N.yaml in the folder "$1".
set -eu
n=0
while [ -e "$1/$n.yaml" ]; do n=$((n + 1)); done
tee "$1/$n.yaml"
