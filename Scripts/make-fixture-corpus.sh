#!/usr/bin/env bash
# Rebuilds Fixtures/corpus from public-domain texts packaged by Debian:
#   - the King James Version New Testament (bible-kjv-text, printed by bible-kjv),
#   - The Jargon File 4.4.7 (jargon-text),
#   - Ambrose Bierce's The Devil's Dictionary (dict-devil).
# The result is committed; this script only documents (and repeats) how it was made.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
missing=()
command -v bible >/dev/null || missing+=(bible-kjv)
[ -f /usr/share/doc/jargon-text/jargon.txt.gz ] || missing+=(jargon-text)
[ -f /usr/share/dictd/devil.dict.dz ] || missing+=(dict-devil)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
mkdir -p Fixtures/corpus
bible "mat1:1-rev22:21" </dev/null 2>/dev/null > Fixtures/corpus/kjv-new-testament.txt
zcat /usr/share/doc/jargon-text/jargon.txt.gz > Fixtures/corpus/jargon-file-4.4.7.txt
# Drop the dictd header records (the lines before the text's own title page).
zcat /usr/share/dictd/devil.dict.dz | sed -n '/The Internet Wiretap 1st Online Edition/,$p' \
  | sed '$d' > Fixtures/corpus/devils-dictionary.txt
wc -c Fixtures/corpus/*
