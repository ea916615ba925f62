"""The PR report that CML posts: params and metrics diff, slices, data, the gate, Mermaid charts.

`render` turns plain dicts into Markdown (pure, tested from fixtures); `sources` reads git and DVC;
`cli` is `mlops-template report`.
"""
