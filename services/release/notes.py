"""Release notes for a bundle, as Markdown and as HTML: the requests it ships, by
department and category, with their IT owners and business sponsors.

Built from the bundle view (itself folded from the log); until the bundle is deployed
the notes say they are a draft of the planned scope.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import Environment, StrictUndefined

CATEGORY_LABELS = {
    "business_project": "Business projects",
    "it_project": "IT projects",
    "change_maintenance": "Changes and maintenance",
    "unplanned": "Unplanned work",
}

MARKDOWN = """\
# Release notes: {{ bundle.name | md }}

{% if shipped -%}
Deployed {{ bundle.deployed_at[:10] }} under production change `{{ bundle.change_id }}`.
{%- else -%}
**Draft**: this bundle is {{ bundle.status | replace("_", " ") }}; it is planned to deploy \
on {{ bundle.deploy_date }}.
{%- endif %}
{{ count }} request{{ "" if count == 1 else "s" }} from {{ departments | length }} \
department{{ "" if departments | length == 1 else "s" }}\
{% if bundle.signed_off_by %}; QA signed off by {{ bundle.signed_off_by | md }}\
{% endif %}{% if exceptions %}; {{ exceptions }} scope exception(s) after the freeze{% endif %}.
{% for department in departments %}
## {{ department.name | md }}
{% for category in department.categories %}
### {{ category.label }}

{% for item in category.requests -%}
- **{{ item.reference }} {{ item.title | md }}**: owner {{ item.owner | md }}, sponsor \
{{ item.sponsor | md }}
{% endfor %}{% endfor %}{% else %}
Nothing is scheduled in this bundle.
{% endfor %}"""

HTML = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Release notes: {{ bundle.name }}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 48rem; margin: 2rem auto; }
.draft { background: #fff3cd; padding: .5rem 1rem; }
.meta { color: #555; }
</style>
</head>
<body>
<h1>Release notes: {{ bundle.name }}</h1>
{% if shipped %}
<p class="meta">Deployed {{ bundle.deployed_at[:10] }} under production change
<code>{{ bundle.change_id }}</code>.</p>
{% else %}
<p class="draft"><strong>Draft</strong>: this bundle is {{ bundle.status | replace("_", " ") }};
it is planned to deploy on {{ bundle.deploy_date }}.</p>
{% endif %}
<p class="meta">{{ count }} request{{ "" if count == 1 else "s" }} from
{{ departments | length }} department{{ "" if departments | length == 1 else "s" }}
{%- if bundle.signed_off_by %}; QA signed off by {{ bundle.signed_off_by }}{% endif %}
{%- if exceptions %}; {{ exceptions }} scope exception(s) after the freeze{% endif %}.</p>
{% for department in departments %}
<section>
<h2>{{ department.name }}</h2>
{% for category in department.categories %}
<h3>{{ category.label }}</h3>
<ul>
{% for item in category.requests %}
<li><strong>{{ item.reference }} {{ item.title }}</strong>: owner {{ item.owner }}, sponsor
{{ item.sponsor }}</li>
{% endfor %}
</ul>
{% endfor %}
</section>
{% else %}
<p>Nothing is scheduled in this bundle.</p>
{% endfor %}
</body>
</html>
"""

# Characters that can start emphasis, code, links, headings, tables or inline HTML;
# with brackets escaped no link can form, so parentheses and dots may stay as they are.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")


def markdown_escape(value: object) -> str:
    """Text shows literally in Markdown: its punctuation cannot start a link or heading."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


def _environment(autoescape: bool, filters: Mapping[str, Callable[..., Any]]) -> Environment:
    # Autoescape is on for HTML only; Markdown escapes explicitly with the `md` filter.
    env = Environment(autoescape=autoescape, undefined=StrictUndefined, keep_trailing_newline=True)  # noqa: S701
    env.filters.update(filters)
    return env


_MARKDOWN = _environment(False, {"md": markdown_escape}).from_string(MARKDOWN)
_HTML = _environment(True, {}).from_string(HTML)


def notes_context(bundle: Mapping[str, Any], people: Mapping[str, str]) -> dict[str, Any]:
    """Group the bundle's items by department, then category; `people` maps usernames
    to display names."""
    departments: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for item in bundle["items"]:
        owner = item.get("owner")
        entry = {
            "request_id": item["request_id"],
            "title": item.get("title") or item["request_id"],
            # A display name, and the username beside it only when it says more.
            "owner": (
                "unassigned"
                if not owner
                else owner
                if people.get(owner, owner) == owner
                else f"{people[owner]} ({owner})"
            ),
            "reference": item.get("reference") or item["request_id"],
            "sponsor": item.get("sponsor") or "unknown",
        }
        department = item.get("department") or "Unknown department"
        category = item.get("category") or "unplanned"
        departments.setdefault(department, {}).setdefault(category, []).append(entry)
    grouped = [
        {
            "name": name,
            "categories": [
                {"label": CATEGORY_LABELS.get(key, key), "requests": items}
                for key, items in sorted(
                    categories.items(),
                    key=lambda kv: (
                        list(CATEGORY_LABELS).index(kv[0])
                        if kv[0] in CATEGORY_LABELS
                        else len(CATEGORY_LABELS)
                    ),
                )
            ],
        }
        for name, categories in sorted(departments.items(), key=lambda kv: kv[0].casefold())
    ]
    return {
        "bundle": bundle,
        "shipped": bundle["status"] == "deployed",
        "count": len(bundle["items"]),
        "departments": grouped,
        "exceptions": bundle["added_after_freeze"] + bundle["removed_after_freeze"],
    }


def render_markdown(context: Mapping[str, Any]) -> str:
    return _MARKDOWN.render(**context)


def render_html(context: Mapping[str, Any]) -> str:
    return _HTML.render(**context)
