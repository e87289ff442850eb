"""Staff users of each role, and a second provider."""

import pytest

from carebook.practice.models import Service
from carebook.staff.models import Role
from carebook.staff.roles import assign_role
from tests.conftest import make_provider


@pytest.fixture
def grace(practice, consultation):
    """Dr Grace Hopper, who works Ada's hours and offers a 100.00 consultation."""
    grace = make_provider(practice, "grace", "Dr Grace Hopper")
    Service.objects.create(
        provider=grace, appointment_type=consultation, price_amount=10000
    )
    return grace


@pytest.fixture
def users(django_user_model, provider):
    """An owner, a front-desk user, Ada as a provider user, and an outsider."""
    made = {
        name: django_user_model.objects.create_user(name)
        for name in ("owner", "desk", "ada", "outsider")
    }
    assign_role(made["owner"], Role.OWNER)
    assign_role(made["desk"], Role.FRONT_DESK)
    assign_role(made["ada"], Role.PROVIDER, provider=provider)
    return made
