"""One router per resource."""

from mlops_template.serving.routes import admin, explain, feedback, health, metrics, model, predict

ROUTERS = (predict.router, explain.router, feedback.router, model.router, admin.router, health.router, metrics.router)
