"""Numbers on the wire: what an integer field accepts, and how large it may be.

JSON has one number type, so a producer in another language may write ``1250000.0`` for an
integer; JSON Schema's ``integer`` accepts it and so does the decoder (a whole-number float is
the integer it spells; ``1.5``, ``"100"`` and ``true`` are not). Every integer has a ceiling that
the exported schema states too, so a value the schema lets through never overflows a PostgreSQL
``bigint`` or Meta's budget fields further down, where it would end in silence instead of a
dead letter naming the field.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

MAX_MONEY_MINOR = 10**12
"""The ceiling of every amount of money, in minor units: 10 billion major units of a two-decimal
currency. The operator API's budget ceiling and the events' money fields both read this one value."""

INT64_MAX = 2**63 - 1
"""What a PostgreSQL ``bigint`` holds: the ceiling of every count, offset and seed."""


def whole_number(value: object) -> object:
    """A float with no fractional part becomes the int it spells; anything else is left to the int check."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


WholeNumber = BeforeValidator(whole_number)

MinorUnits = Annotated[int, Field(ge=0, le=MAX_MONEY_MINOR), WholeNumber]
"""A non-negative amount of money in minor units."""
SignedMinorUnits = Annotated[int, Field(ge=-MAX_MONEY_MINOR, le=MAX_MONEY_MINOR), WholeNumber]
"""An amount of money that may be negative (a reversal)."""
Count = Annotated[int, Field(ge=0, le=INT64_MAX), WholeNumber]
"""Impressions, clicks, attempts, offsets: never negative, never beyond a bigint."""
Int64 = Annotated[int, Field(ge=-INT64_MAX - 1, le=INT64_MAX), WholeNumber]
"""Any other integer (a random seed)."""
Ordinal = Annotated[int, Field(ge=1, le=INT64_MAX), WholeNumber]
"""A count that starts at one: a schema version, an alert's episode."""
