"""One router per resource. Every endpoint takes only the `Request` and returns a `Response`
(app.py mounts them as plain Starlette routes and documents them from these routers)."""

from mlops_template.serving.routes import admin, explain, feedback, health, metrics, model, predict

ROUTERS = (predict.router, explain.router, feedback.router, model.router, admin.router, health.router, metrics.router)
