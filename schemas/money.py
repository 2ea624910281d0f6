"""Money on the wire: integer minor units plus an ISO 4217 currency code.

Floats never carry money: 0.1 + 0.2 is not 0.3, and a budget that drifts by a cent
per change is a budget nobody can audit. Every amount is an ``int`` of the currency's
minor unit (cents for USD, yen for JPY) and the code says which unit that is.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from schemas.bounds import MAX_MONEY_MINOR, MinorUnits, SignedMinorUnits

# ISO 4217 active codes with their minor-unit exponent (number of decimals).
MINOR_UNIT_EXPONENT: dict[str, int] = {
    **dict.fromkeys(
        (
            "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF "
            "CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD "
            "HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK "
            "MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD "
            "RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS "
            "UAH USD UYU UZS VES WST XCD YER ZAR ZMW ZWG "
        ).split(),
        2,
    ),
    **dict.fromkeys("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(), 0),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
    **dict.fromkeys("CLF UYW".split(), 4),
}


MAX_BUDGET_MINOR = MAX_MONEY_MINOR
"""The ceiling of any budget, in minor units (10 billion major units a day): a typo, not a budget.

The one source for the console's and operator API's 4xx, the group totals and the executor's
``failed`` outcome; it also keeps every budget far inside a PostgreSQL ``bigint``."""


def _known_currency(code: str) -> str:
    if code not in MINOR_UNIT_EXPONENT:
        raise ValueError(f"{code!r} is not an ISO 4217 currency code (expected e.g. 'USD', 'EUR')")
    return code


CurrencyCode = Annotated[
    str,
    Field(min_length=3, max_length=3, pattern=r"^[A-Z]{3}$", examples=["USD"],
          json_schema_extra={"enum": sorted(MINOR_UNIT_EXPONENT)}),
    AfterValidator(_known_currency),
]


class Money(BaseModel):
    """A non-negative amount: budgets, spend, deal amounts."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    amount_minor: MinorUnits = Field(description="Amount in the currency's minor unit (cents for USD).")
    currency: CurrencyCode

    def __add__(self, other: Money) -> Money:
        return Money(amount_minor=self.amount_minor + other.require_same_currency(self).amount_minor,
                     currency=self.currency)

    def require_same_currency(self, other: Money | SignedMoney) -> Self:
        if other.currency != self.currency:
            raise ValueError(f"currency mismatch: {self.currency} vs {other.currency}")
        return self


class SignedMoney(BaseModel):
    """An amount that may be negative: a revenue adjustment or reversal."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    amount_minor: SignedMinorUnits = Field(description="Signed amount in the currency's minor unit.")
    currency: CurrencyCode


def to_minor(amount: str | int | float, currency: str) -> int:
    """A decimal amount in major units as integer minor units: ``"1500.50" USD`` -> ``150050``.

    HubSpot and Meta report money as decimal strings in major units; the conversion goes through
    :class:`~decimal.Decimal`, never float. Raises ValueError on garbage or an unknown currency.
    """
    if currency not in MINOR_UNIT_EXPONENT:
        raise ValueError(f"unknown currency {currency!r}")
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation:
        raise ValueError(f"{amount!r} is not a decimal amount") from None
    if not value.is_finite():
        raise ValueError(f"{amount!r} is not a finite amount")
    scaled = (value * (10 ** MINOR_UNIT_EXPONENT[currency])).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(scaled)


def format_money(amount_minor: int, currency: str) -> str:
    """Minor units as people read them: ``123456, "USD"`` -> ``"1,234.56 USD"`` (exact, via Decimal)."""
    exponent = MINOR_UNIT_EXPONENT.get(currency, 2)
    value = Decimal(amount_minor).scaleb(-exponent)
    return f"{value:,.{exponent}f} {currency}"
