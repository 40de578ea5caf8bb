"""The study file: its typed schema (dataclasses, one comment per field), the strict loader that
turns a YAML file into a ``StudyConfig`` or one ``file: key: message`` error, the limits it enforces, and
the JSON Schema generated from the same dataclasses (``gansearch schema``).
"""
from gansearch.config._load import (
    CONDITIONS, COSTS, D_HEADS, DEVICES_HELP, LIMITS, LOSSES, MAX_FILE_BYTES, MAX_LIST, MAX_NODES, MIN_SAMPLES,
    NAME_MAX, PRECISIONS, PRUNERS, SAMPLERS, TASKS, TRANSLATE_COLUMNS, TRANSLATE_OBJECTIVES, DataConfig, IntRange,
    NetSpace, Range, ScoreConfig, StudyConfig, TrainSpace, TranslateConfig, allowed_objectives, config_from_dict,
    load_config,
)
from gansearch.config._schema import study_schema

__all__ = ['CONDITIONS', 'DEVICES_HELP', 'COSTS', 'TRANSLATE_COLUMNS', 'allowed_objectives', 'D_HEADS', 'DataConfig', 'IntRange', 'LIMITS', 'LOSSES', 'MAX_FILE_BYTES', 'MAX_LIST', 'MAX_NODES', 'MIN_SAMPLES', 'NAME_MAX', 'NetSpace', 'PRECISIONS', 'PRUNERS', 'Range', 'SAMPLERS', 'ScoreConfig', 'StudyConfig', 'TASKS', 'TRANSLATE_OBJECTIVES', 'TrainSpace', 'TranslateConfig', 'config_from_dict', 'load_config', 'study_schema']
