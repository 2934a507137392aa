"""An address by reference for a kind of record: /requests/REQ-12 opens the request."""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name a dependency local to the function, as objects.
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from shared.references import References
from shared.web.access import Viewer
from shared.web.forms import see_other
from shared.web.rendering import Templates


def reference_route(
    router: APIRouter,
    base: str,
    references: References,
    with_number: Callable[[int], str | None],
    templates: Templates,
    viewer_of: Callable[..., Any],
    noun: str,
) -> None:
    """GET `base`/PREFIX-n redirects to `base`/<id> of the record numbered n, or says
    there is none (404). Registered before `base`/{id}, which would take the address."""

    @router.get(f"{base}/{references.prefix}-{{number:int}}")
    def by_reference(
        request: Request, number: int, viewer: Annotated[Viewer, Depends(viewer_of)]
    ) -> Response:
        found = with_number(number)
        if found is None:
            heading = f"No such {noun.rsplit(maxsplit=1)[-1]}"
            # (Numbers start at 1: CHG-0 is named as asked, not as `of` writes none.)
            message = f"No {noun} is numbered {references.prefix}-{number}."
            return templates.missing(request, viewer, heading, message)
        return see_other(f"{base}/{found}")
