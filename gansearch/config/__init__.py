"""The study file: its typed schema (dataclasses, one comment per field), the strict loader that
turns a YAML file into a ``StudyConfig`` or one ``file: key: message`` error, the limits it enforces, and
the JSON Schema generated from the same dataclasses (``gansearch schema``).
"""
from gansearch.config._load import StudyConfig, DataConfig, ScoreConfig, TranslateConfig, NetSpace, TrainSpace, Range, IntRange, load_config, config_from_dict, LIMITS, MIN_SAMPLES, MAX_LIST, NAME_MAX, MAX_FILE_BYTES, MAX_NODES, SAMPLERS, PRUNERS, LOSSES, PRECISIONS, TASKS, CONDITIONS, D_HEADS, TRANSLATE_OBJECTIVES, DEVICES_HELP, COSTS, TRANSLATE_COLUMNS, allowed_objectives
from gansearch.config._schema import study_schema

__all__ = ['CONDITIONS', 'DEVICES_HELP', 'COSTS', 'TRANSLATE_COLUMNS', 'allowed_objectives', 'D_HEADS', 'DataConfig', 'IntRange', 'LIMITS', 'LOSSES', 'MAX_FILE_BYTES', 'MAX_LIST', 'MAX_NODES', 'MIN_SAMPLES', 'NAME_MAX', 'NetSpace', 'PRECISIONS', 'PRUNERS', 'Range', 'SAMPLERS', 'ScoreConfig', 'StudyConfig', 'TASKS', 'TRANSLATE_OBJECTIVES', 'TrainSpace', 'TranslateConfig', 'config_from_dict', 'load_config', 'study_schema']
