"""``healthcare``: clinical encounters of synthetic patients, by speciality.

Patients are an entity table (a synthetic id, sex, birth date, blood type: no names, no real
identifiers). The plan fixes the encounter's speciality and type, the patient, vitals drawn within
physiological ranges for the patient's age (febrile diagnoses run warmer; telehealth visits measure
none), ICD-10 diagnoses and orders from the speciality's vocabulary. The LLM or the offline
templates write the chief complaint and the clinical note.

Block-drawn (``Scenario.block_rows``): encounters come in fixed blocks of ``ENCOUNTER_BLOCK``; a block's
specialities, patients, plan and offline text come from its own streams, so encounter ``i`` depends only on
the seed, the arguments and ``i`` (``--count 100`` is the first 100 encounters of ``--count 300``, its
patients the first rows of theirs) and a shard draws only the blocks it overlaps. Encounters are numbered
as drawn, not sorted by time. Within a block, every second encounter of a pool (pediatric or not) brings a
new patient and is that patient's first encounter (the patient's id is its number: ``SYN-P0000017`` is
first seen at ``ENC-0000017``); the other encounters see a patient among those of their pool the block
has brought by then. A patient's encounters therefore all lie in one block.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandera.polars as pa
import polars as pl
from pydantic import BaseModel, Field

from synth_pipelines.core.rng import record_rng
from synth_pipelines.domains.scenarios.base import EntityRange, Scenario, ScenarioArg, ScenarioArgumentError
from synth_pipelines.domains.scenarios.draws import (
    EPOCH,
    blocks_from,
    codes_of,
    draw_blocks,
    id_numbers,
    ids,
    ids_of,
    non_blank,
    non_empty_list,
    pick,
    pick_within_codes,
    row_check,
    timestamps,
)
from synth_pipelines.domains.scenarios.records import TIMESTAMP

SPECIALITIES = ("cardiology", "dermatology", "pediatrics", "orthopedics", "neurology", "general-practice")
ENCOUNTER_TYPES = ("outpatient", "emergency", "inpatient", "telehealth")
# ICD-10-CM codes per speciality.
ICD10 = {
    "I10": "Essential (primary) hypertension",
    "I25.10": "Atherosclerotic heart disease of native coronary artery without angina pectoris",
    "I48.91": "Unspecified atrial fibrillation",
    "I50.9": "Heart failure, unspecified",
    "R07.9": "Chest pain, unspecified",
    "E78.5": "Hyperlipidemia, unspecified",
    "L20.9": "Atopic dermatitis, unspecified",
    "L40.0": "Psoriasis vulgaris",
    "L70.0": "Acne vulgaris",
    "L57.0": "Actinic keratosis",
    "B35.1": "Tinea unguium",
    "J06.9": "Acute upper respiratory infection, unspecified",
    "H66.90": "Otitis media, unspecified, unspecified ear",
    "J02.9": "Acute pharyngitis, unspecified",
    "R50.9": "Fever, unspecified",
    "A08.4": "Viral intestinal infection, unspecified",
    "M54.50": "Low back pain, unspecified",
    "M17.11": "Unilateral primary osteoarthritis, right knee",
    "S93.401A": "Sprain of unspecified ligament of right ankle, initial encounter",
    "M25.561": "Pain in right knee",
    "G43.909": "Migraine, unspecified, not intractable, without status migrainosus",
    "G40.909": "Epilepsy, unspecified, not intractable, without status epilepticus",
    "R51.9": "Headache, unspecified",
    "G62.9": "Polyneuropathy, unspecified",
    "E11.9": "Type 2 diabetes mellitus without complications",
    "J20.9": "Acute bronchitis, unspecified",
    "N39.0": "Urinary tract infection, site not specified",
}
DIAGNOSES = {
    "cardiology": ("I10", "I25.10", "I48.91", "I50.9", "R07.9", "E78.5"),
    "dermatology": ("L20.9", "L40.0", "L70.0", "L57.0", "B35.1"),
    "pediatrics": ("J06.9", "H66.90", "J02.9", "R50.9", "A08.4"),
    "orthopedics": ("M54.50", "M17.11", "S93.401A", "M25.561"),
    "neurology": ("G43.909", "G40.909", "R51.9", "G62.9"),
    "general-practice": ("J06.9", "E11.9", "I10", "J20.9", "N39.0", "M54.50"),
}
FEBRILE = ("J06.9", "H66.90", "J02.9", "R50.9", "A08.4", "J20.9")
ORDERS = {
    "cardiology": (
        "12-lead ECG",
        "Lipid panel",
        "Transthoracic echocardiogram",
        "Troponin I",
        "Basic metabolic panel",
    ),
    "dermatology": (
        "Skin punch biopsy",
        "Topical corticosteroid prescription",
        "KOH preparation",
        "Dermatoscopy",
    ),
    "pediatrics": (
        "Rapid strep test",
        "Complete blood count",
        "Amoxicillin prescription",
        "Immunization update",
    ),
    "orthopedics": (
        "X-ray of the affected joint",
        "MRI knee",
        "Physical therapy referral",
        "NSAID prescription",
    ),
    "neurology": ("MRI brain", "EEG", "CT head without contrast", "Nerve conduction study"),
    "general-practice": ("Complete blood count", "HbA1c", "Urinalysis", "Lipid panel", "Chest X-ray"),
}
COMPLAINTS = {
    "I10": ("Follow-up for high blood pressure", "Headaches and high home blood pressure readings"),
    "I25.10": ("Chest tightness on exertion",),
    "I48.91": ("Palpitations and an irregular heartbeat",),
    "I50.9": ("Shortness of breath and swollen ankles",),
    "R07.9": ("Chest pain since this morning",),
    "E78.5": ("Review of cholesterol results",),
    "L20.9": ("Itchy, dry patches on the arms",),
    "L40.0": ("Scaly plaques on the elbows",),
    "L70.0": ("Persistent acne on the face",),
    "L57.0": ("Rough spots on sun-exposed skin",),
    "B35.1": ("Thickened, discoloured toenail",),
    "J06.9": ("Runny nose, sore throat and cough",),
    "H66.90": ("Ear pain and fever",),
    "J02.9": ("Sore throat and pain on swallowing",),
    "R50.9": ("Fever for two days",),
    "A08.4": ("Vomiting and diarrhoea since yesterday",),
    "M54.50": ("Lower back pain after lifting",),
    "M17.11": ("Right knee pain when climbing stairs",),
    "S93.401A": ("Twisted right ankle playing football",),
    "M25.561": ("Right knee pain and swelling",),
    "G43.909": ("Recurrent throbbing headaches with nausea",),
    "G40.909": ("Seizure witnessed by family",),
    "R51.9": ("Headache for a week",),
    "G62.9": ("Numbness and tingling in both feet",),
    "E11.9": ("Diabetes check-up",),
    "J20.9": ("Productive cough for ten days",),
    "N39.0": ("Burning on urination",),
}
PEDIATRIC_MAX_AGE = 17
# Positions of the febrile codes in the diagnoses of every speciality concatenated (``_plan_block``'s codes).
FEBRILE_CODES = np.flatnonzero(np.isin([c for spec in SPECIALITIES for c in DIAGNOSES[spec]], FEBRILE))
# Encounters per block (``HealthcareScenario.block_rows``): a patient's encounters lie in one block. Part of
# the version: changing it changes every dataset.
ENCOUNTER_BLOCK = 4_000


class Diagnosis(BaseModel):
    code: str
    description: str


class Encounter(BaseModel):
    """One clinical encounter of a synthetic patient."""

    encounter_id: str
    patient_id: str
    speciality: str
    encounter_type: str
    started_at: dt.datetime
    patient_age: int
    patient_sex: str
    heart_rate: int | None
    systolic_bp: int | None
    diastolic_bp: int | None
    respiratory_rate: int | None
    temperature_c: float | None
    spo2: int | None
    diagnoses: list[Diagnosis]
    orders: list[str]
    chief_complaint: str = Field(min_length=1, max_length=300, description="the patient's reason for the visit")
    clinical_note: str = Field(min_length=1, max_length=3000, description="a short SOAP-style clinician note")


class HealthcareScenario(Scenario):
    name = "healthcare"
    version = "3"
    summary = "Clinical encounters by speciality: synthetic patients, vitals, ICD-10 diagnoses, orders, notes"
    system_description = (
        "You write concise clinical documentation for synthetic patients. Stay consistent with the "
        "facts given (speciality, encounter type, age, sex, vitals, diagnoses, orders). Never include "
        "names, addresses, dates of birth or any other identifier."
    )
    record_model = Encounter
    record_name = "encounters"
    block_rows = ENCOUNTER_BLOCK
    max_count = 9_999_999  # ENC-%07d and SYN-P%07d, numbered from 1
    planned_fields = tuple(f for f in Encounter.model_fields if f not in ("chief_complaint", "clinical_note"))
    entity_tables = ("patients",)
    references: ClassVar[dict[str, tuple[str, str]]] = {"patient_id": ("patients", "patient_id")}
    arguments = (
        ScenarioArg(
            "--speciality",
            str,
            ("general-practice",),
            "specialities the encounters belong to",
            choices=SPECIALITIES,
            multiple=True,
        ),
        ScenarioArg("--age-min", int, 0, "youngest patient age in years", minimum=0, maximum=110),
        ScenarioArg("--age-max", int, 95, "oldest patient age in years", minimum=0, maximum=110),
        ScenarioArg(
            "--days",
            int,
            365,
            "length of the window the encounters span, from 2025-01-01",
            minimum=1,
            maximum=3650,
        ),
    )
    examples = (
        "synth scenario --scenario healthcare --count 50 --speciality cardiology --out-dir ./data/health "
        "--output-format json",
        "synth scenario --scenario healthcare --count 200 --speciality pediatrics dermatology --age-max 40",
    )

    def validate_args(self, cfg: Any) -> None:
        where = f"scenario {self.name}"
        if cfg.age_min > cfg.age_max:
            raise ScenarioArgumentError(f"{where}: --age-min {cfg.age_min} is above --age-max {cfg.age_max}")
        if len(set(cfg.speciality)) != len(cfg.speciality):
            raise ScenarioArgumentError(f"{where}: --speciality lists a speciality twice: {cfg.speciality}")
        if "pediatrics" in cfg.speciality and cfg.age_min > self.pediatric_top_age(cfg):
            raise ScenarioArgumentError(
                f"{where}: --speciality pediatrics sees patients aged 0-{PEDIATRIC_MAX_AGE} throughout "
                f"--days {cfg.days}, so its patients are at most {self.pediatric_top_age(cfg)} at the start; "
                f"--age-min {cfg.age_min} leaves none"
            )

    @staticmethod
    def pediatric_top_age(cfg: Any) -> int:
        """Oldest age at the window's start that stays pediatric until its end."""
        return PEDIATRIC_MAX_AGE - math.ceil(cfg.days / 365.25)

    # ---- entities ------------------------------------------------------------------------------

    def block_pools(self, cfg: Any, seed: int, block: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The first ``n`` encounters of ``block``: (speciality, pediatric?, rank within its pool in the block).

        The encounters of rank 0, 2, 4... of a pool bring its next patient (about ``n / 2`` per pool).
        """
        speciality = pick(record_rng(seed, f"scenario/{self.name}", "speciality", block), list(cfg.speciality), n)
        pediatric = speciality == "pediatrics"
        rank = np.where(pediatric, np.cumsum(pediatric), np.cumsum(~pediatric)) - 1
        return speciality, pediatric, rank

    def draw_entities(self, cfg: Any, seed: int) -> dict[str, pl.DataFrame]:
        return self.draw_entity_range(cfg, seed, 0, cfg.count).written

    def draw_entity_range(self, cfg: Any, seed: int, start: int, stop: int) -> EntityRange:
        """Patients of the blocks overlapping ``start .. stop`` (written: those first seen in the range)."""
        first = start - start % ENCOUNTER_BLOCK
        raw = pl.concat(
            [
                self._patients_block(cfg, seed, block, row, n)
                for block, row, n in blocks_from(first, stop, ENCOUNTER_BLOCK)
            ]
            or [self._patients_block(cfg, seed, 0, 0, 0)]
        )
        # Polars expressions once over the range, not per block.
        birth = pl.lit(EPOCH.date()) - pl.duration(days=pl.col("days_old"))
        patients = raw.select(
            ids_of("SYN-P", raw["first_seen"].to_numpy() + 1).alias("patient_id"),
            "sex",
            birth.alias("birth_date"),
            "blood_type",
        )
        written = patients.filter(raw["first_seen"].is_between(start, stop - 1))
        return EntityRange({"patients": patients}, {"patients": written})

    def _patients_block(self, cfg: Any, seed: int, block: int, row: int, n: int) -> pl.DataFrame:
        """The patients brought by encounters ``row .. row + n`` of ``block``: that encounter's number
        (``first_seen``) and the patient's draws."""
        _, pediatric, rank = self.block_pools(cfg, seed, block, n)
        brings = np.flatnonzero(rank % 2 == 0)
        k = len(brings)
        rng = record_rng(seed, f"scenario/{self.name}", "patients", block)
        age_hi = np.where(pediatric[brings], min(cfg.age_max, self.pediatric_top_age(cfg)), cfg.age_max)
        age_years = rng.integers(cfg.age_min, age_hi + 1)
        # Born so that the patient is age_years old at the start of the window, give or take.
        days_old = np.floor(age_years * 365.25 + rng.uniform(0, 364, k)).astype(np.int64)
        sex = pick(rng, ("F", "M"), k)
        blood = pick(rng, ("O+", "A+", "B+", "AB+", "O-", "A-", "B-", "AB-"), k, (38, 34, 9, 3, 7, 6, 2, 1))
        return pl.DataFrame(
            {
                "first_seen": (row + brings).astype(np.int64),
                "sex": pl.Series(sex.tolist(), dtype=pl.String),
                "days_old": days_old,
                "blood_type": pl.Series(blood.tolist(), dtype=pl.String),
            }
        )

    def entity_schemas(self, cfg: Any) -> dict[str, pa.DataFrameSchema]:
        return {
            "patients": pa.DataFrameSchema(
                {
                    "patient_id": pa.Column(pl.String, pa.Check.str_matches(r"^SYN-P\d{7}$"), unique=True),
                    "sex": pa.Column(pl.String, pa.Check.isin(["F", "M"])),
                    "birth_date": pa.Column(pl.Date, pa.Check.le(EPOCH.date())),
                    "blood_type": pa.Column(
                        pl.String, pa.Check.isin(["O+", "A+", "B+", "AB+", "O-", "A-", "B-", "AB-"])
                    ),
                },
                strict=True,
                ordered=True,
            )
        }

    # ---- records -------------------------------------------------------------------------------

    def schema(self, cfg: Any) -> pa.DataFrameSchema:
        def vital(lo: float, hi: float) -> pa.Column:
            dtype = pl.Float64 if isinstance(lo, float) else pl.Int64
            return pa.Column(dtype, pa.Check.in_range(lo, hi), nullable=True)

        codes = list(ICD10)
        return pa.DataFrameSchema(
            {
                "encounter_id": pa.Column(pl.String, pa.Check.str_matches(r"^ENC-\d{7}$"), unique=True),
                "patient_id": pa.Column(pl.String),
                "speciality": pa.Column(pl.String, pa.Check.isin(list(cfg.speciality))),
                "encounter_type": pa.Column(pl.String, pa.Check.isin(ENCOUNTER_TYPES)),
                "started_at": pa.Column(TIMESTAMP),
                # A patient may have a birthday during the window: up to days/365 years older.
                "patient_age": pa.Column(
                    pl.Int64, pa.Check.in_range(cfg.age_min, cfg.age_max + math.ceil(cfg.days / 365.25))
                ),
                "patient_sex": pa.Column(pl.String, pa.Check.isin(["F", "M"])),
                # Physiological ranges (survivable extremes, not normal ranges).
                "heart_rate": vital(30, 220),
                "systolic_bp": vital(70, 250),
                "diastolic_bp": vital(35, 150),
                "respiratory_rate": vital(8, 60),
                "temperature_c": vital(34.0, 42.0),
                "spo2": vital(70, 100),
                "diagnoses": pa.Column(
                    pl.List(pl.Struct({"code": pl.String, "description": pl.String})), non_empty_list()
                ),
                "orders": pa.Column(pl.List(pl.String), non_empty_list()),
                "chief_complaint": pa.Column(pl.String, non_blank()),
                "clinical_note": pa.Column(pl.String, non_blank()),
            },
            checks=[
                row_check(pl.col("diastolic_bp") < pl.col("systolic_bp"), "diastolic_below_systolic"),
                row_check(
                    (pl.col("encounter_type") == "telehealth") == pl.col("heart_rate").is_null(),
                    "vitals_measured_unless_telehealth",
                ),
                row_check(
                    (pl.col("speciality") != "pediatrics") | (pl.col("patient_age") <= PEDIATRIC_MAX_AGE),
                    "pediatric_patients_are_children",
                ),
                row_check(
                    pl.col("diagnoses").list.eval(pl.element().struct.field("code").is_in(codes)).list.all(),
                    "icd10_codes_known",
                ),
                row_check(
                    pl.col("diagnoses")
                    .list.eval(
                        pl.element().struct.field("description")
                        == pl.element().struct.field("code").replace_strict(ICD10, default=None)
                    )
                    .list.all(),
                    "icd10_descriptions_match",
                ),
                row_check(
                    pl.col("started_at") < pl.lit(EPOCH + dt.timedelta(days=cfg.days), dtype=TIMESTAMP),
                    "in_window",
                ),
            ],
            strict=True,
            ordered=True,
        )

    def draw_plan(self, cfg: Any, seed: int, entities: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
        return self.draw_plan_range(cfg, seed, entities, 0, cfg.count)

    def draw_plan_range(
        self, cfg: Any, seed: int, entities: Mapping[str, pl.DataFrame], start: int, stop: int
    ) -> pl.DataFrame:
        patients = entities["patients"]  # those of the range's blocks
        first_seen = id_numbers(patients["patient_id"], "SYN-P") - 1
        born_days = (patients["birth_date"].cast(pl.Int32).to_numpy()).astype(np.int64)  # days after 1970-01-01

        def block(rng: np.random.Generator, n: int, row: int) -> pl.DataFrame:
            return self._plan_block(cfg, seed, rng, row, n, first_seen, born_days)

        raw = draw_blocks(seed, self.name, "plan", stop - start, block, start=start, block_rows=ENCOUNTER_BLOCK)
        # Polars expressions once over the range, not per block (each costs a collect).
        vocab = [code for spec in SPECIALITIES for code in DIAGNOSES[spec]]
        order_vocab = [order for spec in SPECIALITIES for order in ORDERS[spec]]

        def names(codes: str, k: str, table: list[str]) -> pl.Expr:
            return (
                pl.col(codes)
                .arr.to_list()
                .list.head(pl.col(k))
                .list.eval(pl.element().replace_strict(range(len(table)), table, return_dtype=pl.String))
            )

        measured = pl.col("encounter_type") != "telehealth"

        def vital(name: str, lo: float, hi: float, decimals: int = 0) -> pl.Expr:
            clipped = pl.col(name).clip(lo, hi).round(decimals)
            return pl.when(measured).then(clipped if decimals else clipped.cast(pl.Int64)).alias(name)

        dx = names("dx", "dx_k", vocab)
        diagnoses = dx.list.eval(
            pl.struct(
                pl.element().alias("code"),
                pl.element().replace_strict(ICD10, return_dtype=pl.String).alias("description"),
            )
        )
        return raw.with_columns(
            ids("ENC-", start + 1, raw.height).alias("encounter_id"),
            patients["patient_id"].gather(raw["patient_idx"]).alias("patient_id"),
            patients["sex"].gather(raw["patient_idx"]).alias("patient_sex"),
            timestamps(raw["seconds"].to_numpy()).alias("started_at"),
            vital("heart_rate", 40, 200),
            vital("systolic_bp", 80, 220),
            vital("diastolic_bp", 40, 130),
            vital("respiratory_rate", 10, 40),
            vital("temperature_c", 35.0, 41.5, decimals=1),
            vital("spo2", 85, 100),
            diagnoses.alias("diagnoses"),
            names("orders_drawn", "orders_k", order_vocab).alias("orders"),
        ).select(self.planned_fields)

    def _plan_block(
        self,
        cfg: Any,
        seed: int,
        rng: np.random.Generator,
        row: int,
        n: int,
        first_seen: np.ndarray,
        born_days: np.ndarray,
    ) -> pl.DataFrame:
        """Encounters ``row .. row + n`` of a block from its plan stream ``rng`` (numpy only): the patient as
        a row of the range's patients (``first_seen``: each patient's first encounter), vitals unrounded,
        diagnoses and orders as up to 3 codes into the concatenated vocabularies, and how many."""
        speciality, pediatric, rank = self.block_pools(cfg, seed, row // ENCOUNTER_BLOCK, n)
        # An encounter of even rank brings its pool's next patient (rank // 2) and sees it; any other sees
        # one of the rank // 2 + 1 patients its pool has by then (uniformly).
        known = rank // 2 + 1
        pick_in_pool = np.where(
            rank % 2 == 0, rank // 2, np.minimum((rng.random(n) * known).astype(np.int64), known - 1)
        )
        brought_by = np.zeros(n, dtype=np.int64)
        for flag in (True, False):
            rows = pediatric == flag
            bringers = np.flatnonzero(rows & (rank % 2 == 0))
            brought_by[rows] = bringers[pick_in_pool[rows]]
        patient_idx = np.searchsorted(first_seen, row + brought_by)
        seconds = rng.random(n) * cfg.days * 86_400.0  # numbered as drawn, not sorted by time
        enc_type = pick(rng, ENCOUNTER_TYPES, n, (0.62, 0.15, 0.08, 0.15))
        # Age at the encounter's date (UTC day of its millisecond timestamp), as the schema computes it.
        epoch_day = (EPOCH.date() - dt.date(1970, 1, 1)).days
        day = epoch_day + np.floor(np.floor(seconds * 1000) / 86_400_000).astype(np.int64)
        age_np = np.floor((day - born_days[patient_idx]) / 365.25).astype(np.int64)
        child = age_np < 18

        # Diagnoses (1-3, distinct) and orders (1-3, distinct) from the speciality's vocabulary, as codes
        # into the vocabularies of every speciality concatenated.
        def distinct_picks(vocab: Mapping[str, tuple[str, ...]], spec: str, m: int) -> tuple[np.ndarray, np.ndarray]:
            size = len(vocab[spec])
            ranks = rng.random((m, size)).argsort(axis=1)[:, :3]
            k = rng.integers(1, min(3, size) + 1, m)
            offset = sum(len(vocab[s]) for s in SPECIALITIES[: SPECIALITIES.index(spec)])
            return np.pad(ranks, ((0, 0), (0, 3 - ranks.shape[1]))) + offset, k

        dx, dx_k = np.zeros((n, 3), dtype=np.int64), np.zeros(n, dtype=np.int64)
        orders, orders_k = np.zeros((n, 3), dtype=np.int64), np.zeros(n, dtype=np.int64)
        # Every configured speciality draws, with or without rows (``record_rng`` numbers its calls).
        for spec in sorted(set(cfg.speciality)):
            rows = np.flatnonzero(speciality == spec)
            dx[rows], dx_k[rows] = distinct_picks(DIAGNOSES, spec, len(rows))
            orders[rows], orders_k[rows] = distinct_picks(ORDERS, spec, len(rows))
        febrile = np.isin(dx[:, 0], FEBRILE_CODES)

        hr = np.where(child, rng.normal(100, 15, n), rng.normal(76, 12, n)) + np.where(febrile, 12, 0)
        sbp = np.where(child, rng.normal(104, 9, n), rng.normal(124, 16, n) + 0.3 * np.maximum(age_np - 40, 0))
        dbp = np.minimum(sbp * 0.63 + rng.normal(0, 6, n), sbp - 15)
        rr = np.where(child, rng.normal(22, 4, n), rng.normal(16, 2.5, n))
        temp = rng.normal(36.8, 0.3, n) + np.where(febrile, rng.uniform(0.8, 2.4, n), 0.0)
        spo2 = np.minimum(rng.normal(97.5, 1.5, n), 100)
        return pl.DataFrame(
            {
                "patient_idx": patient_idx,
                "speciality": pl.Series(speciality.tolist(), dtype=pl.String),
                "encounter_type": pl.Series(enc_type.tolist(), dtype=pl.String),
                "seconds": seconds,
                "patient_age": age_np,
                "heart_rate": hr,
                "systolic_bp": sbp,
                "diastolic_bp": dbp,
                "respiratory_rate": rr,
                "temperature_c": temp,
                "spo2": spo2,
                "dx": dx,
                "dx_k": dx_k,
                "orders_drawn": orders,
                "orders_k": orders_k,
            }
        )

    def draw_offline(
        self, plan: pl.DataFrame, cfg: Any, seed: int, entities: Mapping[str, pl.DataFrame]
    ) -> pl.DataFrame:
        return self.draw_offline_range(plan, cfg, seed, entities, 0)

    def draw_offline_range(
        self, plan: pl.DataFrame, cfg: Any, seed: int, entities: Mapping[str, pl.DataFrame], start: int
    ) -> pl.DataFrame:
        first_code = codes_of(plan["diagnoses"].list.first().struct.field("code"), list(COMPLAINTS))

        def draw(rng: np.random.Generator, n: int, row: int) -> pl.DataFrame:
            codes = first_code[row - start : row - start + n]
            return pl.DataFrame(
                {"complaint": pl.Series(pick_within_codes(rng, codes, COMPLAINTS).tolist(), dtype=pl.String)}
            )

        # The draw per block, the note assembled once over the range (a polars expression per block would
        # cost a collect each).
        drawn = draw_blocks(seed, self.name, "offline-text", plan.height, draw, start=start, block_rows=ENCOUNTER_BLOCK)
        sex_word = pl.when(pl.col("patient_sex") == "F").then(pl.lit("female")).otherwise(pl.lit("male"))
        vitals = (
            pl.when(pl.col("heart_rate").is_null())
            .then(pl.lit("Vitals not measured (telehealth visit)."))
            .otherwise(
                pl.format(
                    "HR {} bpm, BP {}/{} mmHg, RR {}/min, T {} °C, SpO2 {}%.",
                    "heart_rate",
                    "systolic_bp",
                    "diastolic_bp",
                    "respiratory_rate",
                    "temperature_c",
                    "spo2",
                )
            )
        )
        note = pl.concat_str(
            [
                pl.format(
                    "S: {}-year-old {} seen ({}, {}) for {}.",
                    "patient_age",
                    sex_word,
                    "encounter_type",
                    "speciality",
                    pl.col("complaint").str.to_lowercase(),
                ),
                pl.lit("O:"),
                vitals,
                pl.lit("A:"),
                pl.col("diagnoses")
                .list.eval(
                    pl.format(
                        "{} ({})",
                        pl.element().struct.field("description"),
                        pl.element().struct.field("code"),
                    )
                )
                .list.join("; ")
                + pl.lit("."),
                pl.lit("P:"),
                pl.col("orders").list.join(", ") + pl.lit("."),
            ],
            separator=" ",
        )
        return plan.with_columns(drawn["complaint"]).select(
            pl.col("complaint").alias("chief_complaint"), note.alias("clinical_note")
        )

    def build_prompt(self, plan_row: Mapping[str, Any], cfg: Any) -> str:
        if plan_row["heart_rate"] is None:
            vitals = "not measured (telehealth)"
        else:
            vitals = (
                f"HR {plan_row['heart_rate']}, BP {plan_row['systolic_bp']}/{plan_row['diastolic_bp']}, "
                f"RR {plan_row['respiratory_rate']}, T {plan_row['temperature_c']} °C, "
                f"SpO2 {plan_row['spo2']}%"
            )
        diagnoses = "; ".join(f"{d['code']} {d['description']}" for d in plan_row["diagnoses"])
        return (
            f"Encounter {plan_row['encounter_id']} "
            f"({plan_row['speciality']}, {plan_row['encounter_type']}).\n"
            f"Patient: {plan_row['patient_age']}-year-old, sex {plan_row['patient_sex']}.\n"
            f"Vitals: {vitals}.\nDiagnoses: {diagnoses}.\nOrders: {', '.join(plan_row['orders'])}.\n"
            "Write the chief complaint in the patient's words (one short sentence) and a concise SOAP "
            "clinical note consistent with these facts. No names or identifiers."
        )

    def check_dataset(self, records: pl.DataFrame, entities: Mapping[str, pl.DataFrame], cfg: Any) -> list[str]:
        patients = entities["patients"].select("patient_id", "sex", "birth_date")
        joined = records.join(patients, on="patient_id", how="left")
        problems = []
        if joined.filter(pl.col("sex") != pl.col("patient_sex")).height:
            problems.append("patient_sex differs from the patient's sex")
        age = (pl.col("started_at").dt.date() - pl.col("birth_date")).dt.total_days() // 365.25
        if joined.filter(age.cast(pl.Int64) != pl.col("patient_age")).height:
            problems.append("patient_age is not the patient's age at the encounter")
        # A patient's encounters lie in its block, at or after its first one (the encounter its id numbers).
        number = id_numbers(records["encounter_id"], "ENC-") - 1
        first_seen = id_numbers(records["patient_id"], "SYN-P") - 1
        outside = int(((first_seen > number) | (first_seen // ENCOUNTER_BLOCK != number // ENCOUNTER_BLOCK)).sum())
        if outside:
            problems.append(f"{outside} encounters precede their patient's first one or lie outside its block")
        return problems
