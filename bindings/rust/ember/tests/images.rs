//! Image classification through the binding: decode, preprocess with the spec stored in
//! the model, run, top-k. Needs the labelled models of the bindings_classifiers fixture
//! (EMBER_TEST_MODELS/squeezenet-labelled.ember, mnist-labelled.ember) and a library
//! with the image functions (ember_sys::HAS_IMAGE_API); otherwise it notes the skip.
use std::path::PathBuf;

use ember::{Image, Model, PixelFormat, Status};

fn setup(model: &str) -> Option<(Model, PathBuf)> {
    if !ember::ember_sys::HAS_IMAGE_API {
        eprintln!("skipped: libember.so has no image functions yet");
        return None;
    }
    let models = PathBuf::from(std::env::var_os("EMBER_TEST_MODELS")?);
    let shared = PathBuf::from(std::env::var_os("EMBER_SHARED_DIR")?).join("models");
    let path = models.join(model);
    if !path.exists() {
        eprintln!("skipped: {} not found (the bindings_classifiers fixture converts it)", path.display());
        return None;
    }
    Some((Model::open(&path).expect("open"), shared))
}

#[test]
fn classify_photos() {
    let (model, shared) = match setup("squeezenet-labelled.ember") {
        Some(v) => v,
        None => return,
    };
    let labels = model.labels().unwrap();
    assert_eq!(labels.len(), 1000);
    let mut session = model.session().unwrap();
    for (file, class) in [("skimage_coffee.jpg", 967), ("in525_dam.jpg", 525), ("wonnx_bald_eagle.jpg", 22), ("winml_kitten.png", 281)] {
        let image = Image::load(shared.join("images/imagenet").join(file)).unwrap();
        let top = session.classify(&image, 5).unwrap();
        assert_eq!(top.len(), 5, "{}", file);
        assert_eq!(top[0].index, class, "{}: {:?}", file, top);
        assert_eq!(top[0].label, labels[class as usize]);
        assert!(top.windows(2).all(|w| w[0].score >= w[1].score) && top[0].score <= 1.0, "{:?}", top);
        println!("{}: {} {} ({:.3})", file, top[0].index, top[0].label, top[0].score);
    }
}

#[test]
fn classify_digit() {
    let (model, shared) = match setup("mnist-labelled.ember") {
        Some(v) => v,
        None => return,
    };
    let mut session = model.session().unwrap();
    let bytes = std::fs::read(shared.join("images/mnist/mnist8_testset0_digit2.png")).unwrap();
    let image = Image::decode(&bytes).unwrap();
    assert_eq!(image.size().unwrap(), (28, 28));
    let top = session.classify(&image, 3).unwrap();
    assert_eq!(top[0].index, 2, "{:?}", top);
    assert_eq!(top[0].label.trim(), "2");
    let input = session.preprocess(&image, None).unwrap();
    assert_eq!(input.shape(), &[1, 1, 28, 28]);
    assert_eq!(input.as_slice::<f32>().unwrap().len(), 784);
}

#[test]
fn image_errors() {
    if !ember::ember_sys::HAS_IMAGE_API {
        assert_eq!(Image::load("x.jpg").err().unwrap().status, Status::Unsupported);
        return;
    }
    assert_eq!(Image::load("/nonexistent/none.jpg").err().unwrap().status, Status::Io);
    assert_eq!(Image::decode(b"definitely not a JPEG").err().unwrap().status, Status::Format);
    assert_eq!(Image::from_pixels(vec![0; 10], 4, 4, 12, PixelFormat::Rgb).err().unwrap().status, Status::InvalidArgument);
    let img = Image::from_pixels(vec![0; 48], 4, 4, 12, PixelFormat::Rgb).unwrap();
    assert_eq!(img.size().unwrap(), (4, 4));
}
