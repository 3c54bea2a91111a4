//! Face redaction for disclosure: the model and its engines, detection as pure functions,
//! tracking across frames, masks, and the plan/render flow.

pub mod detect;
pub mod mask;
pub mod model;
pub mod track;

#[cfg(test)]
mod tests {
    use std::path::Path;

    use std::sync::OnceLock;

    use super::detect::{DetectSettings, Detection, Detector, Rgb8, iou};
    use super::model::{self, ModelPaths, OrtRuntime};

    fn models() -> ModelPaths {
        ModelPaths::in_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("models"))
    }

    /// The test process's one ONNX Runtime environment.
    fn runtime() -> &'static OrtRuntime {
        static RT: OnceLock<OrtRuntime> = OnceLock::new();
        RT.get_or_init(|| {
            OrtRuntime::load(&models().ort_lib).expect("ONNX Runtime (run scripts/setup.sh)")
        })
    }

    /// testdata/faces/astronaut.jpg: NASA portrait (public domain, via scikit-image), with the
    /// face annotated at [175, 53, 100, 128] (x, y, w, h) in the development set.
    fn astronaut() -> (Vec<u8>, usize, usize) {
        let img =
            image::open(Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/faces/astronaut.jpg"))
                .expect("test image")
                .to_rgb8();
        let (w, h) = (img.width() as usize, img.height() as usize);
        (img.into_raw(), w, h)
    }

    fn detect_with(ort: bool, scale: f32) -> (Vec<Detection>, String) {
        let (_, engine) = model::load(&models().model, ort.then(runtime), 1)
            .expect("model and engine (run scripts/setup.sh)");
        let mut d = Detector::new(
            engine,
            DetectSettings {
                scale,
                ..DetectSettings::default()
            },
        );
        let (data, width, height) = astronaut();
        let found = d
            .detect(&Rgb8 {
                data: &data,
                width,
                height,
            })
            .expect("detect");
        (found, d.engine())
    }

    #[test]
    fn both_engines_find_the_same_face() {
        let truth = Detection {
            x0: 175.0,
            y0: 53.0,
            x1: 275.0,
            y1: 181.0,
            score: 1.0,
        };
        for scale in [1.0, 0.75] {
            let (ort, ort_name) = detect_with(true, scale);
            let (tract, tract_name) = detect_with(false, scale);
            assert!(ort_name.contains("onnxruntime") && tract_name.contains("tract"));
            assert_eq!(ort.len(), 1, "one face at scale {scale}: {ort:?}");
            assert_eq!(tract.len(), ort.len(), "{tract:?} vs {ort:?}");
            let (a, b) = (ort[0], tract[0]);
            for (x, y) in [(a.x0, b.x0), (a.y0, b.y0), (a.x1, b.x1), (a.y1, b.y1)] {
                assert!((x - y).abs() < 0.5, "engines differ: {a:?} vs {b:?}");
            }
            assert!((a.score - b.score).abs() < 1e-3);
            assert!(iou(&a, &truth) > 0.5, "{a:?} vs ground truth");
        }
    }

    #[test]
    fn a_changed_model_file_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut bytes = std::fs::read(models().model).expect("model");
        bytes[1000] ^= 1;
        let path = dir.path().join(model::MODEL_FILE);
        std::fs::write(&path, bytes).expect("write");
        let err = model::ModelBytes::load(&path).expect_err("refused");
        assert!(err.to_string().contains("not the pinned"), "{err}");
        let missing = model::ModelBytes::load(&dir.path().join("nope.onnx")).expect_err("missing");
        assert!(
            missing.to_string().contains("scripts/setup.sh"),
            "{missing}"
        );
    }
}
