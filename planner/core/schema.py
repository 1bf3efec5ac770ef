"""The register's columns, in one table: name, kind, label (zh/en), unit and import header aliases.

Everything else is derived from these tables: the register's column lists and dtypes
(:mod:`planner.core.register`), the store's column kinds (:mod:`planner.store.base`), the labels
the pages show, and which file headers an import recognises (:mod:`planner.io.headers`). Adding a
column is one line here.

>>> PARKS["new_gfa_m2"].label("zh"), PARKS["new_gfa_m2"].label("en")
('新增建筑面积(m²)', 'New floor area (m²)')
>>> PARKS["delivery_year"].dtype, PARKS["land_area_m2"].kind
('Int64', 'real')
>>> [c.name for c in ALLOCATIONS.columns][:3]
['allocation_id', 'park_id', 'specialisation']
>>> "land_area_m2" in area_columns(PARKS)
True
"""

from __future__ import annotations

from dataclasses import dataclass

# Kinds of value a column holds; the store maps each to a database type, pandas to a dtype.
KINDS: dict[str, str] = {"text": "str", "real": "float64", "int": "Int64", "bool": "bool"}
AREA_UNIT = "m²"


@dataclass(frozen=True)
class Column:
    """One register column: ``kind`` (text / real / int / bool), its label, unit, import aliases."""

    name: str
    kind: str
    zh: str
    en: str
    unit: str = ""
    aliases: tuple[str, ...] = ()

    @property
    def dtype(self) -> str:
        """The pandas dtype of the column."""
        return KINDS[self.kind]

    def label(self, lang: str = "zh") -> str:
        """'占地面积(m²)' / 'Land area (m²)': the label with its unit, in ``lang``."""
        if lang == "zh":
            return f"{self.zh}({self.unit})" if self.unit else self.zh
        return f"{self.en} ({self.unit})" if self.unit else self.en


@dataclass(frozen=True)
class Table:
    """The columns of one register table, in stored order."""

    name: str
    columns: tuple[Column, ...]

    def __getitem__(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def names(self) -> list[str]:
        """Column names in order."""
        return [c.name for c in self.columns]

    def of_kind(self, *kinds: str) -> list[str]:
        """Names of the columns of these kinds, in order."""
        return [c.name for c in self.columns if c.kind in kinds]

    def labels(self) -> dict[str, tuple[str, str]]:
        """column -> (Chinese label, English label), units included."""
        return {c.name: (c.label("zh"), c.label("en")) for c in self.columns}

    def kinds(self) -> list[tuple[str, str]]:
        """(column, kind) pairs in order: what the store creates."""
        return [(c.name, c.kind) for c in self.columns]


def _text(name: str, zh: str, en: str, *aliases: str) -> Column:
    return Column(name, "text", zh, en, aliases=aliases)


def _area(name: str, zh: str, en: str, *aliases: str) -> Column:
    return Column(name, "real", zh, en, AREA_UNIT, aliases)


PARKS = Table(
    "parks",
    (
        _text("id", "编号", "ID", "编号", "园区编号", "id", "parkid", "park_id", "编码", "序号id"),
        _text("name_zh", "名称", "Name (zh)", "园区名称", "中文名称", "name", "名字", "parkname", "name_cn"),
        _text("name_en", "英文名称", "Name (en)", "英文名", "englishname", "name_en"),
        _text(
            "district", "所在区(来源)", "District (as sourced)", "区", "所在区", "行政区", "辖区", "district"
        ),
        _text("district_code", "区代码", "District code"),
        _text("functional_area", "功能区", "Functional area"),
        _text("park_type", "园区类型", "Park type", "类型", "type", "parktype"),
        _text("namepark_level", "软件名园级别", "Name-park level", "名园级别", "nameparklevel"),
        _text("namepark_note", "名园备注", "Name-park note"),
        _text("land_use_class", "用地类别", "Land-use class", "用地性质", "landuseclass"),
        _area("land_area_m2", "占地面积", "Land area", "用地面积", "占地", "landarea", "sitearea"),
        Column("plot_ratio", "real", "容积率", "Plot ratio", aliases=("plotratio", "far")),
        _area("gfa_m2", "总建筑面积", "Total floor area", "建筑面积", "floorarea", "gfa"),
        _area("new_gfa_m2", "新增建筑面积", "New floor area", "新增面积", "newfloorarea", "newgfa"),
        Column(
            "delivery_year",
            "int",
            "交付年份",
            "Delivery year",
            aliases=("交付年", "竣工年份", "年份", "year"),
        ),
        _text("status", "状态", "Status", "建设状态", "status"),
        _text("status_src", "状态(来源原文)", "Status (source text)"),
        _text("year_src", "年份(来源原文)", "Year (source text)"),
        _text("fields", "重点领域", "Fields", "产业领域", "领域", "fields"),
        _text("spec_tag", "专业方向标签(来源)", "Specialisation tag (source)"),
        _text("source", "来源", "Source", "数据来源", "source"),
        _text("figures_conf", "数据可信度", "Figures confidence", "可信度", "figuresconf", "confidence"),
        _text("coord_conf", "坐标可信度", "Coordinate confidence"),
        Column("figures_verified", "bool", "数据已核实", "Figures verified"),
    ),
)

ALLOCATIONS = Table(
    "allocations",
    (
        _text("allocation_id", "分配编号", "Allocation ID"),
        _text("park_id", "园区编号", "Park ID"),
        _text("specialisation", "专业方向", "Specialisation"),
        _area("area_m2", "分配面积", "Allocated area"),
        Column("delivery_year", "int", "交付年份", "Delivery year"),
        _text("status", "状态", "Status"),
        _text("basis", "依据", "Basis"),
        _text("note", "备注", "Note"),
    ),
)

QUOTAS = Table(
    "quotas",
    (
        _text("district_code", "区代码", "District code"),
        _area("quota_m2", "指标", "Quota"),
    ),
)

TABLES = {t.name: t for t in (PARKS, ALLOCATIONS, QUOTAS)}

# Where a park lies, in an imported table: not register columns, but recognised headers.
LOCATION_ALIASES: dict[str, tuple[str, ...]] = {
    "_lon": ("经度", "东经", "lon", "lng", "long", "longitude", "x"),
    "_lat": ("纬度", "北纬", "lat", "latitude", "y"),
    "_wkt": ("wkt", "geometry", "geometry_wkt", "几何", "geom_wkt", "the_geom"),
}


def area_columns(table: Table) -> tuple[str, ...]:
    """The columns of ``table`` that hold an area in m² (an import converts their units)."""
    return tuple(c.name for c in table.columns if c.unit == AREA_UNIT)


# Values of the register's coded columns, with their labels.
STATUSES = ("planned", "under_construction", "delivered", "unknown")
STATUS_LABELS: dict[str, tuple[str, str]] = {
    "planned": ("规划", "Planned"),
    "under_construction": ("在建", "Under construction"),
    "delivered": ("已交付", "Delivered"),
    "unknown": ("未知", "Unknown"),
}
SECURED_STATUSES = ("delivered", "under_construction")
BASES = ("baseline", "planner", "import", "proposal")
