//! The Rust binding against real models: the converted .ember files of the tests'
//! convert_models fixture (EMBER_TEST_MODELS) and the ONNX Runtime reference outputs in
//! shared/models/ref (EMBER_SHARED_DIR), with the tolerances of tests/test_models.c:
//! |got - ref| <= 1e-4 * max|ref| + 1e-5 per element, and the same top-1 class.
//! Without those variables (a plain `cargo test` outside CTest) the tests print a note
//! and pass without checking.
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;

use ember::{DType, Model, ModelOptions, Runtime, RuntimeOptions, Status, TensorRef};

fn env_dir(var: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => {
            eprintln!("skipped: {} is not set (run through CTest: ctest -L bindings)", var);
            None
        }
    }
}

fn models_dir() -> Option<PathBuf> {
    env_dir("EMBER_TEST_MODELS")
}

fn shared_models() -> Option<PathBuf> {
    env_dir("EMBER_SHARED_DIR").map(|d| d.join("models"))
}

fn read_f32(path: &PathBuf) -> Vec<f32> {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {}", path.display(), e));
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for i in 0..v.len() {
        if v[i] > v[best] {
            best = i;
        }
    }
    best
}

struct RefCase {
    name: String,
    input: PathBuf,
    output: PathBuf,
    shape: Vec<i64>,
}

/// The rows of ref/<id>.tsv for the model's output `output`.
fn ref_cases(shared: &PathBuf, id: &str, output: &str) -> Vec<RefCase> {
    let tsv = std::fs::read_to_string(shared.join("ref").join(format!("{}.tsv", id))).expect("reference tsv");
    tsv.lines()
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|c| c.len() >= 9 && c[0] != "case" && c[4] == output && c[2] == "float32")
        .map(|c| RefCase {
            name: c[0].to_string(),
            input: shared.join(c[1]),
            output: shared.join(c[5]),
            shape: c[3].split('x').map(|d| d.parse().unwrap()).collect(),
        })
        .collect()
}

fn check_reference(id: &str) {
    let (models, shared) = match (models_dir(), shared_models()) {
        (Some(m), Some(s)) => (m, s),
        _ => return,
    };
    let model = Model::open(models.join(format!("{}.ember", id))).expect("open");
    let mut session = model.session().expect("session");
    let cases = ref_cases(&shared, id, &model.outputs()[0].name);
    assert!(!cases.is_empty(), "{}: no reference cases", id);
    for c in &cases {
        let input = read_f32(&c.input);
        let want = read_f32(&c.output);
        let outs = session.run(&[TensorRef::new(&c.shape, &input).unwrap()]).expect("run");
        let got = outs[0].as_slice::<f32>().expect("float32 output");
        assert_eq!(got.len(), want.len(), "{}/{}", id, c.name);
        let rmax = want.iter().fold(0f64, |m, &w| m.max((w as f64).abs()));
        let tol = 1e-4 * rmax + 1e-5;
        for i in 0..got.len() {
            let d = (got[i] as f64 - want[i] as f64).abs();
            assert!(d <= tol, "{}/{}: element {}: got {}, want {} (|diff| {} > {})", id, c.name, i, got[i], want[i], d, tol);
        }
        assert_eq!(argmax(got), argmax(&want), "{}/{}: top-1", id, c.name);
        // The borrowed view of the same output agrees with the copy.
        assert_eq!(session.output(0).unwrap().as_slice::<f32>().unwrap(), got);
    }
    println!("{}: {} reference cases match", id, cases.len());
}

#[test]
fn version() {
    assert!(!ember::version().is_empty());
    assert!(ember::api_version() >= ember::ember_sys::EMBER_API_VERSION);
    assert_eq!(Status::Shape.name(), "EMBER_ERR_SHAPE");
    assert_eq!(DType::Float32.name(), "float32");
    assert_eq!(DType::Float16.size(), 2);
}

#[test]
fn load_and_describe() {
    let models = match models_dir() {
        Some(m) => m,
        None => return,
    };
    let path = models.join("mnist-8.ember");
    let rt = Runtime::with_options(&RuntimeOptions { num_threads: 2, disable_plugin_discovery: true, spin_us: 50 }).unwrap();
    assert_eq!(rt.num_threads().unwrap(), 2);
    assert!(rt.plugins().unwrap().is_empty(), "discovery is off");
    let model = rt.load_model(&path).unwrap();
    let input = &model.inputs()[0];
    assert_eq!((input.name.as_str(), input.dtype), ("Input3", DType::Float32));
    assert_eq!(input.shape, vec![1, 1, 28, 28]);
    assert_eq!(model.outputs()[0].name, "Plus214_Output_0");
    let session = model.session().unwrap();
    let nodes = session.nodes().unwrap();
    assert!(!nodes.is_empty() && !nodes[0].backend.is_empty());
    assert_eq!(session.input_index("Input3").unwrap(), 0);
    assert_eq!(session.profile().err().expect("profiling is off").status, Status::InvalidArgument);
    let mut profiled = model.session_with(&ember::SessionOptions { enable_profiling: true, ..Default::default() }).unwrap();
    let zeros = vec![0f32; 784];
    for _ in 0..3 {
        profiled.run(&[TensorRef::new(&[1, 1, 28, 28], &zeros).unwrap()]).unwrap();
    }
    let steps = profiled.profile().unwrap();
    assert!(!steps.is_empty() && steps.iter().all(|s| s.calls == 3 && s.total_ms >= 0.0), "{:?}", steps);
    // From bytes, copied.
    let bytes = std::fs::read(&path).unwrap();
    let m2 = rt.load_model_bytes(&bytes, &ModelOptions { copy_on_load: true, verify_checksums: true }).unwrap();
    assert_eq!(m2.inputs(), model.inputs());
    // Dropping the runtime handle first is fine: models keep it alive.
    drop(rt);
    drop(session);
    drop(model);
    assert_eq!(m2.outputs().len(), 1);
}

/// The sample plugin of the build (samples/plugin_relu) loads; a file that is not a
/// plugin is refused with its reason and listed.
#[test]
fn plugins() {
    let build = match std::env::var_os("EMBER_TEST_MODELS") {
        Some(m) => PathBuf::from(m).join(".."),
        None => return,
    };
    let rt = Runtime::with_options(&RuntimeOptions { disable_plugin_discovery: true, ..Default::default() }).unwrap();
    let sample = build.join("plugins/libember-samplerelu.so");
    if sample.exists() {
        rt.load_plugin(&sample).unwrap();
    }
    let e = rt.load_plugin(build.join("models/mnist-8.ember")).err().expect("not a plugin");
    assert_eq!(e.status, Status::Backend, "{}", e);
    let plugins = rt.plugins().unwrap();
    let refused = plugins.iter().find(|p| !p.loaded).expect("the refused file is listed");
    assert!(!refused.reason.is_empty());
    if sample.exists() {
        assert!(plugins.iter().any(|p| p.loaded && p.name == "samplerelu"), "{:?}", plugins);
    }
}

#[test]
fn mnist_reference() {
    check_reference("mnist-8");
}

#[test]
fn squeezenet_reference() {
    check_reference("squeezenet1.1-caffe2-fp32");
}

#[test]
fn errors() {
    let models = match models_dir() {
        Some(m) => m,
        None => return,
    };
    let rt = Runtime::new().unwrap();
    let e = rt.load_model(models.join("no-such-model.ember")).err().expect("missing file");
    assert_eq!(e.status, Status::Io, "{}", e);
    assert!(!e.message.is_empty());
    let e = rt.load_model_bytes(b"not a model at all", &ModelOptions::default()).err().expect("garbage");
    assert_eq!(e.status, Status::Format, "{}", e);

    let model = rt.load_model(models.join("mnist-8.ember")).unwrap();
    let mut s = model.session().unwrap();
    let small = vec![0f32; 27 * 28];
    let e = s.run(&[TensorRef::new(&[1, 1, 27, 28], &small).unwrap()]).err().expect("bad shape");
    assert_eq!(e.status, Status::Shape, "{}", e);
    assert!(e.message.contains("Input3"), "{}", e);
    let doubles = vec![0f64; 784];
    let e = s.run(&[TensorRef::new(&[1, 1, 28, 28], &doubles).unwrap()]).err().expect("bad dtype");
    assert_eq!(e.status, Status::Shape, "{}", e);
    assert_eq!(s.run(&[]).err().expect("no inputs").status, Status::InvalidArgument);
    // Data that does not fill the shape is refused before reaching C.
    assert_eq!(TensorRef::new(&[1, 1, 28, 28], &[0f32; 5]).err().unwrap().status, Status::InvalidArgument);
    // Reading an output as the wrong type.
    let zeros = vec![0f32; 784];
    let outs = s.run(&[TensorRef::new(&[1, 1, 28, 28], &zeros).unwrap()]).expect("usable after errors");
    assert_eq!(outs[0].as_slice::<i64>().err().unwrap().status, Status::InvalidArgument);
    assert_eq!(model.metadata("no such key").err().unwrap().status, Status::NotFound);
    assert_eq!(s.output(7).err().unwrap().status, Status::InvalidArgument);
}

/// Model is Send + Sync and shared by threads; each thread owns a Session (Send).
#[test]
fn threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Runtime>();
    send_sync::<Model>();
    send_sync::<ember::Image>();
    send::<ember::Session>();
    let (models, shared) = match (models_dir(), shared_models()) {
        (Some(m), Some(s)) => (m, s),
        _ => return,
    };
    let model = Model::open(models.join("mnist-8.ember")).unwrap();
    let cases = Arc::new(
        ref_cases(&shared, "mnist-8", &model.outputs()[0].name)
            .into_iter()
            .map(|c| (c.shape.clone(), read_f32(&c.input), argmax(&read_f32(&c.output))))
            .collect::<Vec<_>>(),
    );
    let handles: Vec<_> = (0..6)
        .map(|t| {
            let model = model.clone();
            let cases = cases.clone();
            thread::spawn(move || {
                let mut s = model.session().unwrap();
                for i in 0..20 {
                    let (shape, input, want) = &cases[(t + i) % cases.len()];
                    let outs = s.run(&[TensorRef::new(shape, input).unwrap()]).unwrap();
                    assert_eq!(argmax(outs[0].as_slice::<f32>().unwrap()), *want);
                }
                s // a session moves back to the spawning thread
            })
        })
        .collect();
    for h in handles {
        let s = h.join().expect("thread");
        assert!(s.arena_bytes().unwrap() > 0);
    }
}
