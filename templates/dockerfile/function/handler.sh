#!/bin/sh
# Run once per request: the request body on stdin, the answer on stdout (fprocess in the
# Dockerfile). Replace it, or point fprocess at any program in the image.
printf 'Hello from a Dockerfile function! You said: '
cat
