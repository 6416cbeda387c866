import pytest

from perforch.spec.jsonpath import lookup, parse_json_path
from perforch.spec.template import Ref, parse_template


def test_literals_and_references():
    assert parse_template("Bearer ${token}") == ("Bearer ", Ref("token"))
    assert parse_template("${users.email}") == (Ref("users.email"),)
    assert parse_template("${env.API_KEY}")[0].namespace == "env"


def test_dollar_escapes():
    assert parse_template("$$") == ("$",)
    assert parse_template("$${not_a_ref}") == ("${not_a_ref}",)
    assert parse_template("cost: 5$ or $x") == ("cost: 5$ or $x",)


@pytest.mark.parametrize("bad", ["${", "${}", "${a b}", "x ${1abc} y", "${a.b.c}"])
def test_bad_references(bad):
    with pytest.raises(ValueError, match="bad interpolation"):
        parse_template(bad)


def test_json_path_subset():
    assert parse_json_path("$.items[0].id") == ("items", 0, "id")
    assert parse_json_path("$['odd key'][\"x\"]") == ("odd key", "x")
    assert parse_json_path("$") == ()
    assert lookup({"items": [{"id": 7}]}, ("items", 0, "id")) == 7
    for bad in ["items", "$..x", "$.a[*]", "$.a[?(@.x)]"]:
        with pytest.raises(ValueError):
            parse_json_path(bad)
