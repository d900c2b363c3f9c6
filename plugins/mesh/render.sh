#!/bin/sh
# Helm hands the rendered chart on stdin and the --post-renderer-args as arguments.
exec kubectl-mesh render "$@"
