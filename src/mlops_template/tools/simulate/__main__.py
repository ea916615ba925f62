"""`python -m mlops_template.tools.simulate`: the same command as `mlops-template simulate`."""

from mlops_template.tools.simulate.command import main

if __name__ == "__main__":
    raise SystemExit(main())
