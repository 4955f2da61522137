"""Vital signs: local codes and labels to LOINC, with their FR Core profile and unit.

Local labels (``TA``, ``PA``, ``FC``, ``Pouls``, ``Poids``, ``Temp``, ``SpO2``,
``Glycémie``, ``EVA douleur``…) are translated to LOINC by the ``LocalVitalSignToLoinc``
ConceptMap. Each LOINC code then has a :class:`VitalSign` spec here: the FR Core 2.2.0
profile that constrains it (``corpora/fr-core-2.2.0``: ``fr-core-observation-bp``,
``-heartrate``, ``-body-weight``, ``-body-temperature``, ``-saturation-oxygen``,
``-resp-rate``, ``-body-height``, ``-bmi``, ``-head-circum``), the unit that profile
binds (the base FHIR vital-signs units, https://hl7.org/fhir/R4/observation-vitalsigns.html),
and the category. Glucose and pain have no FR Core profile: they get no ``meta.profile``.

Glucose in ``mmol/L`` is a different LOINC property (moles, not mass), so the code
follows the unit: 2339-0 for mass concentration, 15074-8 for molar concentration.

Each spec also bounds what can be measured at all (:attr:`VitalSign.limits`, in its
unit): a weight of −5 kg, a temperature of 98 °C (Fahrenheit sent as Celsius), an SpO2
of 120 % are typing or unit errors, and a record others will read must not hold them
as facts. The bounds are the extremes reported in people, not clinical alert ranges:
a heart rate of 0 (asystole), a core temperature of 13.7 °C (accidental hypothermia,
survived) or a 0.25 kg newborn are measurements and pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from gateway.normalise.errors import NormalisationError
from gateway.normalise.terminology import VITAL_SIGNS, Coding, Terminology

LOINC = "http://loinc.org"
FR_CORE_SD = "https://hl7.fr/ig/fhir/core/StructureDefinition/"
BP_PANEL = "85354-9"
SYSTOLIC = "8480-6"
DIASTOLIC = "8462-4"


@dataclass(frozen=True, slots=True)
class VitalSign:
    """What the gateway produces for one LOINC vital sign or nursing measurement."""

    loinc: str
    display: str
    unit: str | None  # the UCUM unit values are converted to; None for a panel
    category: str  # observation-category code
    profile: str | None = None
    extra_codings: tuple[Coding, ...] = ()
    limits: tuple[Decimal, Decimal] | None = None  # what can be measured, in ``unit``

    @property
    def coding(self) -> Coding:
        return Coding(LOINC, self.loinc, self.display)

    @property
    def codings(self) -> tuple[Coding, ...]:
        return (self.coding, *self.extra_codings)


def _limits(low: str, high: str) -> tuple[Decimal, Decimal]:
    return Decimal(low), Decimal(high)


def _vs(
    loinc: str,
    display: str,
    unit: str | None,
    profile: str | None,
    extra_codings: tuple[Coding, ...] = (),
    limits: tuple[Decimal, Decimal] | None = None,
) -> VitalSign:
    url = FR_CORE_SD + profile if profile else None
    return VitalSign(
        loinc, display, unit, "vital-signs", url, extra_codings=extra_codings, limits=limits
    )


VITAL_SIGNS_BY_LOINC: dict[str, VitalSign] = {
    v.loinc: v
    for v in (
        _vs(
            BP_PANEL,
            "Blood pressure panel with all children optional",
            None,
            "fr-core-observation-bp",
        ),
        _vs(SYSTOLIC, "Systolic blood pressure", "mm[Hg]", None, limits=_limits("1", "400")),
        _vs(DIASTOLIC, "Diastolic blood pressure", "mm[Hg]", None, limits=_limits("0", "300")),
        _vs(
            "8867-4",
            "Heart rate",
            "/min",
            "fr-core-observation-heartrate",
            limits=_limits("0", "350"),
        ),
        _vs(
            "9279-1",
            "Respiratory rate",
            "/min",
            "fr-core-observation-resp-rate",
            limits=_limits("0", "150"),
        ),
        _vs(
            "29463-7",
            "Body weight",
            "kg",
            "fr-core-observation-body-weight",
            limits=_limits("0.2", "700"),
        ),
        _vs(
            "8302-2",
            "Body height",
            "cm",
            "fr-core-observation-body-height",
            limits=_limits("15", "280"),
        ),
        _vs(
            "9843-4",
            "Head Occipital-frontal circumference",
            "cm",
            "fr-core-observation-head-circum",
            limits=_limits("15", "100"),
        ),
        _vs(
            "8310-5",
            "Body temperature",
            "Cel",
            "fr-core-observation-body-temperature",
            limits=_limits("10", "47"),
        ),
        _vs(
            "2708-6",
            "Oxygen saturation in Arterial blood",
            "%",
            "fr-core-observation-saturation-oxygen",
            (Coding(LOINC, "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),),
            limits=_limits("0", "100"),
        ),
        _vs(
            "39156-5",
            "Body mass index (BMI) [Ratio]",
            "kg/m2",
            "fr-core-observation-bmi",
            limits=_limits("5", "250"),
        ),
        VitalSign(
            "2339-0",
            "Glucose [Mass/volume] in Blood",
            "mg/dL",
            "laboratory",
            limits=_limits("0", "5000"),
        ),
        VitalSign(
            "15074-8",
            "Glucose [Moles/volume] in Blood",
            "mmol/L",
            "laboratory",
            limits=_limits("0", "280"),
        ),
        VitalSign(
            "72514-3",
            "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
            "{score}",
            "survey",
            limits=_limits("0", "10"),
        ),
    )
}

#: A LOINC code whose property follows the unit: (code, UCUM unit) -> code to use instead.
_UNIT_VARIANTS = {("2339-0", "mmol/L"): "15074-8"}


def vital_sign(
    code: str, terminology: Terminology, *, system: str | None = None
) -> VitalSign | None:
    """The spec for a LOINC code, or for a local code or label mapped to one; else ``None``."""
    text = code.strip()
    if not text:
        return None
    if system in (None, LOINC) and text in VITAL_SIGNS_BY_LOINC:
        return VITAL_SIGNS_BY_LOINC[text]
    if system == LOINC:
        return None
    coding = terminology.translate(VITAL_SIGNS, text)
    if coding is None:
        return None
    return VITAL_SIGNS_BY_LOINC.get(coding.code)


def for_unit(spec: VitalSign, ucum: str | None) -> VitalSign:
    """The spec to use for a value in ``ucum`` (switches glucose mass/moles codes)."""
    other = _UNIT_VARIANTS.get((spec.loinc, ucum or ""))
    return VITAL_SIGNS_BY_LOINC[other] if other else spec


def check_limits(spec: VitalSign, value: Decimal) -> None:
    """Refuse a value (in ``spec.unit``) that no person can have (:attr:`~VitalSign.limits`)."""
    if spec.limits is None:
        return
    low, high = spec.limits
    if low <= value <= high:
        return
    unit = spec.unit or ""
    raise NormalisationError(
        f"{spec.display.lower()} {value:f} {unit} is outside what can be measured "
        f"({low}–{high} {unit}): check the value and its unit"
    )
