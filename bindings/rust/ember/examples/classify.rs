//! Labels images with an Ember model converted with its labels and preprocessing:
//!
//!   ember convert squeezenet1.1.onnx -o squeezenet.ember --preset caffe --labels synset.txt
//!   cargo run --example classify -- squeezenet.ember cat.jpg [more.jpg ...]
use std::process::ExitCode;

fn run(model_path: &str, images: &[String]) -> ember::Result<()> {
    let model = ember::Model::open(model_path)?;
    let mut session = model.session()?;
    for path in images {
        let image = ember::Image::load(path)?;
        println!("{}", path);
        for c in session.classify(&image, 5)? {
            println!("  {:5.3}  {:4}  {}", c.score, c.index, c.label);
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: classify MODEL.ember IMAGE...");
        return ExitCode::from(2);
    }
    match run(&args[0], &args[1..]) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("classify: {}", e);
            ExitCode::FAILURE
        }
    }
}
