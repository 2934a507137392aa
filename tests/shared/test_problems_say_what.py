"""What a refused request is told: each problem's detail says what was wrong, in terms the
caller can act on, with one title for each status."""

from __future__ import annotations

from tests.builders import request_payload, submit
from tests.conftest import Api


def test_if_match_naming_a_version_that_never_existed_says_so(api: Api) -> None:
    """If-Match "999" on a record at version 1 is not "changed since you read it": no one
    read version 999."""
    request_id = submit(api)
    for version in ("999", "0"):
        answer = api.put(
            f"/api/requests/{request_id}", "vp.sales",
            json=request_payload(title="Other"), headers={"If-Match": f'"{version}"'},
        )  # fmt: skip
        assert answer.status_code == 412
        assert answer.json()["detail"].startswith(f"no version {version} of this")
        assert "it is at version 1" in answer.json()["detail"]
        assert "changed since you read it" not in answer.json()["detail"]
        assert answer.json()["current_version"] == 1
