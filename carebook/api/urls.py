from ninja import NinjaAPI

from carebook.api import bookings, providers, staff
from carebook.api.errors import install_error_handlers


class CarebookAPI(NinjaAPI):
    def get_openapi_schema(self, **kwargs):
        """Return the OpenAPI document, with the booking token's scheme."""
        schema = super().get_openapi_schema(**kwargs)
        schemes = schema["components"].setdefault("securitySchemes", {})
        schemes["BookingToken"] = {
            "type": "http",
            "scheme": "bearer",
            "description": "The secret token returned when the booking was made.",
        }
        schemes["StaffToken"] = {
            "type": "http",
            "scheme": "bearer",
            "description": "A staff user's API token, made in the staff admin "
            "or with `manage.py create_api_token`.",
        }
        return schema


api = CarebookAPI(
    title="Carebook API",
    version="1",
    description=(
        "Find providers and their free times, and book appointments. "
        "Times are RFC 3339; amounts are decimal strings with the currency's "
        "own number of digits."
    ),
    urls_namespace="api",
)
install_error_handlers(api)
api.add_router("/providers", providers.router)
api.add_router("/bookings", bookings.router)
api.add_router("/staff", staff.router)
