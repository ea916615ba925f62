"""Score contract rows with the served artifact, fed exactly as the API feeds it.

What evaluate, profile, the gate and the benchmarks share, so that every number they report comes from
the artifact the API loads.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlops_template.model.artifact import ServedModel
from mlops_template.model.onnx_export import graph_inputs


def served_scores(served: ServedModel, rows: pd.DataFrame) -> np.ndarray:
    """The served artifact's probabilities for contract rows: the numbers the API would return."""
    return served.predict_columns(graph_inputs(rows))
