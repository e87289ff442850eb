"""Turn service errors into clear 4xx answers."""

from ninja.errors import ValidationError

from carebook.bookings.services import SlotUnavailable, WrongState


def field_error(location: list, message: str) -> ValidationError:
    """Return a 422 error for one field, shaped like the schema's own errors."""
    return ValidationError([{"type": "value_error", "loc": location, "msg": message}])


def install_error_handlers(api) -> None:
    """Answer a taken slot or a finished hold with 409 Conflict."""

    def conflict(request, error):
        return api.create_response(request, {"detail": str(error)}, status=409)

    api.add_exception_handler(SlotUnavailable, conflict)
    api.add_exception_handler(WrongState, conflict)
