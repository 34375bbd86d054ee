#!/usr/bin/env bash
# Prints the path of a Node 24 LTS binary (see scripts/node.sh).
exec bash "$(dirname "$0")/node.sh" 24
