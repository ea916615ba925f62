"""The foundations every layer stands on: errors, atomic io, ISO weeks, typed params, the contract spec,
the string rules ingest and the API share, params check and the one command shape. Imports nothing else
of the package."""
