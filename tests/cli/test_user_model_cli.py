"""`zlens train --model FILE.keras`: the user's own subclassed model through the CLI, its
classes imported with --import, a --target that is not the input, and --resume of that run."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import zarr

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}

MODEL_CODE = textwrap.dedent('''
    import keras
    import tensorflow as tf
    from keras import layers

    @keras.saving.register_keras_serializable(package="mine")
    class Denoiser(tf.keras.Model):
        def __init__(self, latent_dim=4, width=20, **kwargs):
            super().__init__(**kwargs)
            self.latent_dim, self.width = latent_dim, width
            self.encoder = tf.keras.Sequential([layers.Dense(16, activation="relu"), layers.Dense(latent_dim)])
            self.decoder = tf.keras.Sequential([layers.Dense(16, activation="relu"),
                                                layers.Dense(width, activation="sigmoid")])

        def call(self, x):
            encoded = self.encoder(x)
            return self.decoder(encoded), encoded

        def get_config(self):
            return {**super().get_config(), "latent_dim": self.latent_dim, "width": self.width}
''')


def zlens(*args, cwd):
    return subprocess.run([sys.executable, "-m", "zlens", *map(str, args)], capture_output=True, text=True,
                          env=ENV, timeout=300, cwd=cwd)


@pytest.fixture
def project(tmp_path):
    """A user's folder: their model code, the model saved as .keras, noisy data and clean targets."""
    (tmp_path / "mymodels.py").write_text(MODEL_CODE)
    rng = np.random.default_rng(0)
    clean = rng.random((131, 20), dtype=np.float32)
    np.save(tmp_path / "clean.npy", clean)
    np.save(tmp_path / "noisy.npy", np.clip(clean + 0.1 * rng.normal(size=clean.shape), 0, 1).astype("float32"))
    subprocess.run([sys.executable, "-c", textwrap.dedent('''
        import keras, numpy as np
        from mymodels import Denoiser
        model = Denoiser()
        model(np.zeros((1, 20), "float32"))
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
        model.save("denoiser.keras")
    ''')], cwd=tmp_path, env=ENV, check=True, timeout=300)
    return tmp_path


@pytest.mark.slow
def test_train_a_users_model_file_on_a_target_then_resume(project):
    proc = zlens("train", "--model", "denoiser.keras", "--import", "mymodels.py", "--data", "noisy.npy",
                 "--target", "clean.npy", "--out", "runs/den", "--epochs", 2, "--seed", 0, "--quiet", cwd=project)
    assert proc.returncode == 0, proc.stderr
    state = json.loads((project / "runs/den/run.json").read_text())
    assert state["config"]["optimizer"]["name"].lower().startswith("sgd")  # the file's own optimizer kept
    assert state["config"]["latent"] == "encoder"
    proc = zlens("train", "--resume", "den", "--epochs", 3, "--quiet", cwd=project / "runs")  # another cwd
    assert proc.returncode == 0, proc.stderr
    g = zarr.open_group(project / "runs/den/latents.zarr", mode="r")
    assert list(g["epochs"][: g.attrs["committed"]]) == [0, 1, 2]
    z = g["consistent/z"][g.attrs["committed"] - 1]
    assert z.shape == (131, 4)

    sys.path.insert(0, str(project))
    try:
        import mymodels  # noqa: F401  (registers Denoiser for load_model)

        import zlens as zl

        model = zl.open_run(project / "runs/den").model
        noisy, clean = np.load(project / "noisy.npy"), np.load(project / "clean.npy")
        np.testing.assert_allclose(z, model.autoencoder.encoder(noisy).numpy(), rtol=1e-5, atol=1e-6)
        decoded, _ = model.autoencoder(noisy)
        np.testing.assert_allclose(g["consistent/recon_error"][g.attrs["committed"] - 1],
                                   np.mean((decoded.numpy() - clean) ** 2, axis=1), rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(zl.encode(model, noisy), z, rtol=1e-5, atol=1e-6)
    finally:
        sys.path.remove(str(project))


@pytest.mark.slow
@pytest.mark.parametrize("args, message", [
    (["--model", "missing.keras"], "no such file"),
    (["--model", "denoiser.h5"], "Keras model file (.keras)"),
    (["--model", "denoiser.keras"], "register_keras_serializable"),  # its class not imported
    (["--model", "denoiser.keras", "--import", "nothere.py"], "no such file"),
    (["--latent", "z"], "--model FILE.keras"),
])
def test_a_bad_model_option_is_one_line_and_exit_2(project, args, message):
    proc = zlens("train", *args, "--data", "noisy.npy", "--out", "runs/bad", "--epochs", 1, cwd=project)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (project / "runs/bad").exists()


@pytest.mark.slow
def test_a_users_model_killed_mid_run_resumes_without_a_gap(project):
    """kill -9 while the user's subclassed model trains; --resume loads it (its classes imported
    again from the recorded --import) and goes on after the last committed epoch."""
    import signal
    import time

    run_dir = project / "runs" / "killed"
    args = ["train", "--model", "denoiser.keras", "--import", "mymodels.py", "--data", "noisy.npy",
            "--target", "clean.npy", "--out", run_dir, "--epochs", 400, "--batch-size", 16, "--seed", 0, "--quiet"]
    proc = subprocess.Popen([sys.executable, "-m", "zlens", *map(str, args)], cwd=project, env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        state = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").exists() else {}
        if state.get("epochs_done", 0) >= 2:
            break
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = json.loads((run_dir / "run.json").read_text())["epochs_done"]
    assert 2 <= done < 400
    resumed = zlens("train", "--resume", run_dir, "--epochs", done + 2, "--quiet", cwd=project / "runs")
    assert resumed.returncode == 0, resumed.stderr
    state = json.loads((run_dir / "run.json").read_text())
    assert state["status"] == "finished" and [r["epoch"] for r in state["history"]] == list(range(done + 2))
    g = zarr.open_group(run_dir / "latents.zarr", mode="r")
    assert list(g["epochs"][: g.attrs["committed"]]) == list(range(done + 2))
