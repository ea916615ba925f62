"""One router per resource. Every endpoint takes only the `Request` and returns a `Response`
(app.py mounts them as plain Starlette routes and documents them from these routers)."""

from mlops_template.serving.routes import admin, explain, feedback, health, me, metrics, model, monitor, page, predict
from mlops_template.serving.routes import review as review_routes

ROUTERS = (
    *(predict.router, explain.router, feedback.router, model.router, monitor.router, review_routes.router),
    *(me.router, admin.router, health.router, metrics.router, page.router),
)
