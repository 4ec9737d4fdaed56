//! Loader tests on small synthetic files the tests write, the download path against a
//! loopback HTTP server, and (with `MNIST_DIR` set) the real MNIST files.
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;

use super::*;
use crate::error::DataError;

/// Synthetic dataset files: name -> bytes as published (gzipped), and a spec whose checksums
/// match them.
struct Synthetic {
    files: HashMap<String, Vec<u8>>,
    spec: DatasetSpec,
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn images_bytes(n: usize) -> Vec<u8> {
    let pixels: Vec<u8> = (0..n * ROWS * ROWS).map(|i| (i * 7 % 256) as u8).collect();
    idx::encode(&[n, ROWS, ROWS], &pixels)
}

fn labels_bytes(n: usize) -> Vec<u8> {
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    idx::encode(&[n], &labels)
}

fn synthetic(n_train: usize, n_test: usize, dir: &Path) -> Synthetic {
    let contents = [
        ("train-images-idx3-ubyte.gz", images_bytes(n_train)),
        ("train-labels-idx1-ubyte.gz", labels_bytes(n_train)),
        ("t10k-images-idx3-ubyte.gz", images_bytes(n_test)),
        ("t10k-labels-idx1-ubyte.gz", labels_bytes(n_test)),
    ];
    let mut files = HashMap::new();
    let mut specs = Vec::new();
    for (name, content) in contents {
        let gz = gzip(&content);
        specs.push(FileSpec::new(
            name,
            Checksum::Md5(Checksum::Md5(String::new()).compute(&gz)),
            &source::sha256_hex(&content),
        ));
        files.insert(name.to_owned(), gz);
    }
    let mut spec = DatasetSpec::mnist();
    spec.name = "Synthetic".into();
    spec.env_var = "LSTM_SUPPORT_TEST_UNSET_DIR".into();
    spec.default_dir = dir.to_owned();
    spec.mirrors = vec![];
    spec.train_images = specs[0].clone();
    spec.train_labels = specs[1].clone();
    spec.test_images = specs[2].clone();
    spec.test_labels = specs[3].clone();
    Synthetic { files, spec }
}

fn write_all(dir: &Path, files: &HashMap<String, Vec<u8>>) {
    for (name, bytes) in files {
        fs::write(dir.join(name), bytes).unwrap();
    }
}

fn load(spec: &DatasetSpec, dir: &Path) -> Result<Mnist> {
    Loader::new(spec.clone()).dir(dir).download(false).load()
}

/// Writes the synthetic set with `name` replaced by `bytes` (gzipped when `gz`), then loads.
fn load_with_replaced(name: &str, content: &[u8]) -> (tempfile::TempDir, Error) {
    let dir = tempfile::tempdir().unwrap();
    let syn = synthetic(20, 10, dir.path());
    let mut files = syn.files.clone();
    files.insert(name.to_owned(), gzip(content));
    write_all(dir.path(), &files);
    let err = load(&syn.spec, dir.path()).unwrap_err();
    (dir, err)
}

#[test]
fn loads_gzipped_and_uncompressed_files() {
    let dir = tempfile::tempdir().unwrap();
    let syn = synthetic(20, 10, dir.path());
    write_all(dir.path(), &syn.files);
    // One file stored uncompressed under its name without `.gz`.
    let gz = syn.files["t10k-labels-idx1-ubyte.gz"].clone();
    fs::remove_file(dir.path().join("t10k-labels-idx1-ubyte.gz")).unwrap();
    fs::write(
        dir.path().join("t10k-labels-idx1-ubyte"),
        idx::decompress_if_gzip(&gz, Path::new("x")).unwrap(),
    )
    .unwrap();

    let mnist = load(&syn.spec, dir.path()).unwrap();
    assert_eq!(mnist.train.images().size(), [20, 28, 28]);
    assert_eq!(mnist.train.images().kind(), Kind::Float);
    assert_eq!(mnist.train.labels().kind(), Kind::Int64);
    assert_eq!(mnist.test.len(), 10);
    assert_eq!(mnist.train.class_counts(), vec![2; 10]);
    assert_eq!(mnist.train.label(13).unwrap(), 3);
    let max = mnist.train.images().max().double_value(&[]);
    let min = mnist.train.images().min().double_value(&[]);
    assert!(
        (0.0..=1.0).contains(&min) && max <= 1.0 && max > 0.9,
        "{min} {max}"
    );
    // Pixel (0, 0, 1) is byte 1 * 7 = 7.
    let pixel = mnist.train.images().double_value(&[0, 0, 1]);
    assert!((pixel - 7.0 / 255.0).abs() < 1e-6);
    assert!(mnist.train.label(20).is_err());
}

#[test]
fn wrong_magic_names_the_file() {
    let mut bytes = labels_bytes(20);
    bytes[3] = 3; // claims 3 dimensions
    let (_dir, err) = load_with_replaced("train-labels-idx1-ubyte.gz", &bytes);
    assert!(
        matches!(err, Error::Data(DataError::BadMagic { .. })),
        "{err}"
    );
    assert!(
        err.to_string().contains("train-labels-idx1-ubyte.gz"),
        "{err}"
    );
}

#[test]
fn truncated_header_and_data_are_reported() {
    let (_dir, err) = load_with_replaced("train-images-idx3-ubyte.gz", &images_bytes(20)[..10]);
    assert!(
        matches!(err, Error::Data(DataError::TruncatedHeader { .. })),
        "{err}"
    );
    let full = images_bytes(20);
    let (_dir, err) = load_with_replaced("train-images-idx3-ubyte.gz", &full[..full.len() - 5]);
    assert!(
        matches!(err, Error::Data(DataError::TruncatedData { .. })),
        "{err}"
    );
    assert!(
        err.to_string().contains("train-images-idx3-ubyte.gz"),
        "{err}"
    );
}

#[test]
fn truncated_gzip_stream_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let syn = synthetic(20, 10, dir.path());
    let mut files = syn.files.clone();
    let gz = files["t10k-images-idx3-ubyte.gz"].clone();
    files.insert(
        "t10k-images-idx3-ubyte.gz".into(),
        gz[..gz.len() / 2].to_vec(),
    );
    write_all(dir.path(), &files);
    let err = load(&syn.spec, dir.path()).unwrap_err();
    assert!(matches!(err, Error::Data(DataError::Gzip { .. })), "{err}");
}

#[test]
fn image_and_label_counts_must_agree() {
    let (_dir, err) = load_with_replaced("train-labels-idx1-ubyte.gz", &labels_bytes(19));
    assert!(
        matches!(
            err,
            Error::Data(DataError::CountMismatch {
                n_images: 20,
                n_labels: 19,
                ..
            })
        ),
        "{err}"
    );
}

#[test]
fn label_above_nine_is_rejected() {
    let mut labels: Vec<u8> = (0..20).map(|i| (i % 10) as u8).collect();
    labels[4] = 10;
    let (_dir, err) =
        load_with_replaced("train-labels-idx1-ubyte.gz", &idx::encode(&[20], &labels));
    assert!(
        matches!(
            err,
            Error::Data(DataError::BadLabel {
                index: 4,
                label: 10,
                ..
            })
        ),
        "{err}"
    );
}

#[test]
fn wrong_image_size_is_rejected() {
    let bytes = idx::encode(&[20, 28, 27], &vec![0u8; 20 * 28 * 27]);
    let (_dir, err) = load_with_replaced("train-images-idx3-ubyte.gz", &bytes);
    assert!(
        matches!(err, Error::Data(DataError::BadDimensions { .. })),
        "{err}"
    );
}

#[test]
fn checksum_mismatch_is_rejected() {
    // Structurally valid, but not the file the spec describes.
    let mut labels: Vec<u8> = (0..20).map(|i| (i % 10) as u8).collect();
    labels.swap(0, 1);
    let (_dir, err) =
        load_with_replaced("train-labels-idx1-ubyte.gz", &idx::encode(&[20], &labels));
    assert!(
        matches!(err, Error::Data(DataError::ChecksumMismatch { .. })),
        "{err}"
    );
    assert!(
        err.to_string().contains("train-labels-idx1-ubyte.gz"),
        "{err}"
    );
}

#[test]
fn missing_file_names_directory_file_and_remedy() {
    let dir = tempfile::tempdir().unwrap();
    let syn = synthetic(20, 10, dir.path());
    let mut files = syn.files.clone();
    files.remove("t10k-images-idx3-ubyte.gz");
    write_all(dir.path(), &files);
    let err = load(&syn.spec, dir.path()).unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, Error::Data(DataError::Missing { .. })),
        "{message}"
    );
    assert!(message.contains("t10k-images-idx3-ubyte.gz"), "{message}");
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
    assert!(message.contains("LSTM_SUPPORT_TEST_UNSET_DIR"), "{message}");
}

#[test]
fn directory_in_place_of_a_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let syn = synthetic(20, 10, dir.path());
    write_all(dir.path(), &syn.files);
    fs::remove_file(dir.path().join("train-labels-idx1-ubyte.gz")).unwrap();
    fs::create_dir(dir.path().join("train-labels-idx1-ubyte.gz")).unwrap();
    let err = load(&syn.spec, dir.path()).unwrap_err();
    assert!(matches!(err, Error::Data(DataError::Io { .. })), "{err}");
}

#[test]
fn split_is_deterministic_disjoint_and_80_20() {
    let dir = tempfile::tempdir().unwrap();
    let syn = synthetic(100, 10, dir.path());
    write_all(dir.path(), &syn.files);
    let mnist = load(&syn.spec, dir.path()).unwrap();
    let split = ValidationSplit::default();
    let (train, validation) = mnist.train.split(&split).unwrap();
    assert_eq!((train.len(), validation.len()), (80, 20));
    let (train2, validation2) = mnist.train.split(&split).unwrap();
    assert!(train.images().equal(train2.images()));
    assert!(validation.labels().equal(validation2.labels()));
    // Every image is distinct in the synthetic set only up to the pixel pattern, so check
    // disjointness on the first pixel row sums, which identify an image's position.
    let key = |d: &Dataset| {
        Vec::<f64>::try_from(
            d.images()
                .sum_dim_intlist(&[1i64, 2][..], false, Kind::Double),
        )
        .unwrap()
    };
    let mut all: Vec<f64> = key(&train).into_iter().chain(key(&validation)).collect();
    let mut original = key(&mnist.train);
    all.sort_by(f64::total_cmp);
    original.sort_by(f64::total_cmp);
    assert_eq!(all, original);
    let other_seed = ValidationSplit {
        seed: 43,
        ..split.clone()
    };
    let (train3, _) = mnist.train.split(&other_seed).unwrap();
    assert!(!train.labels().equal(train3.labels()) || !train.images().equal(train3.images()));

    // Keras' validation_split: the last 20%, in order.
    let (head, tail) = mnist
        .train
        .split(&ValidationSplit::keras_tail(0.2))
        .unwrap();
    assert!(head.images().equal(&mnist.train.images().narrow(0, 0, 80)));
    assert!(tail.labels().equal(&mnist.train.labels().narrow(0, 80, 20)));
}

#[test]
fn bad_split_fractions_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let syn = synthetic(10, 10, dir.path());
    write_all(dir.path(), &syn.files);
    let mnist = load(&syn.spec, dir.path()).unwrap();
    for fraction in [0.0, 1.0, -0.2, f64::NAN, 0.01] {
        let split = ValidationSplit {
            validation_fraction: fraction,
            ..Default::default()
        };
        let err = mnist.train.split(&split).unwrap_err();
        assert!(matches!(err, Error::Invalid { .. }), "{fraction}: {err}");
    }
}

#[test]
fn ascii_image_has_28_rows() {
    let dir = tempfile::tempdir().unwrap();
    let syn = synthetic(2, 2, dir.path());
    write_all(dir.path(), &syn.files);
    let mnist = load(&syn.spec, dir.path()).unwrap();
    let text = mnist.train.ascii_image(0).unwrap();
    assert_eq!(text.lines().count(), 28);
    // Counted from 1, as the notebooks count rows.
    assert!(
        text.lines().next().unwrap().starts_with("row  1 |"),
        "{text}"
    );
    assert!(
        text.lines().last().unwrap().starts_with("row 28 |"),
        "{text}"
    );
    assert!(mnist.train.ascii_image(2).is_err());
}

/// Serves `files` over HTTP/1.1 on loopback for at most `max_requests` requests; unknown paths
/// get 404. Returns the base URL.
fn serve(files: HashMap<String, Vec<u8>>, max_requests: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(max_requests) {
            let Ok(mut stream) = stream else { continue };
            let mut request_line = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            // Skip the headers.
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                line.clear();
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("/");
            let name = path.trim_start_matches('/');
            let response = match files.get(name) {
                Some(body) => {
                    let mut r = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    r.extend_from_slice(body);
                    r
                }
                None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
            };
            let _ = stream.write_all(&response);
        }
    });
    base
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn downloads_missing_files_from_a_mirror_and_verifies_them() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("data");
    let mut syn = synthetic(20, 10, &target);
    let good = serve(syn.files.clone(), 16);
    // The first mirror serves a corrupted copy of every file: it must be rejected and the
    // second mirror used.
    let corrupted: HashMap<String, Vec<u8>> = syn
        .files
        .iter()
        .map(|(name, bytes)| {
            let mut bad = bytes.clone();
            let last = bad.len() - 1;
            bad[last] ^= 0xff;
            (name.clone(), bad)
        })
        .collect();
    let bad = serve(corrupted, 16);
    syn.spec.mirrors = vec![bad, good];
    let mnist = Loader::new(syn.spec.clone()).dir(&target).load().unwrap();
    assert_eq!(mnist.train.len(), 20);
    let mut expected: Vec<String> = syn.files.keys().cloned().collect();
    expected.sort();
    assert_eq!(entries(&target), expected, "no temporary files are left");
    for (name, bytes) in &syn.files {
        assert_eq!(&fs::read(target.join(name)).unwrap(), bytes);
    }
}

#[test]
fn corrupted_download_is_rejected_and_not_left_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("data");
    let mut syn = synthetic(20, 10, &target);
    let mut files = syn.files.clone();
    let mut bad = files["train-images-idx3-ubyte.gz"].clone();
    bad.truncate(bad.len() / 2); // a partial download
    files.insert("train-images-idx3-ubyte.gz".into(), bad);
    let mirror = serve(files, 16);
    syn.spec.mirrors = vec![mirror.clone()];
    let err = Loader::new(syn.spec.clone())
        .dir(&target)
        .load()
        .unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, Error::Data(DataError::Missing { .. })),
        "{message}"
    );
    assert!(message.contains(&mirror), "names the mirror: {message}");
    assert!(
        message.contains("checksum") || message.contains("MD5"),
        "{message}"
    );
    assert!(
        !entries(&target)
            .iter()
            .any(|n| n.starts_with("train-images") || n.ends_with(".part")),
        "nothing half-written is left: {:?}",
        entries(&target)
    );
}

#[test]
fn unreachable_mirror_gives_a_clear_error_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let mut syn = synthetic(20, 10, dir.path());
    // A port nobody listens on: connection refused at once.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    syn.spec.mirrors = vec![format!("http://127.0.0.1:{port}/")];
    let started = std::time::Instant::now();
    let err = Loader::new(syn.spec.clone())
        .dir(dir.path())
        .load()
        .unwrap_err();
    assert!(started.elapsed().as_secs() < 30);
    let message = err.to_string();
    assert!(message.contains("could not be downloaded"), "{message}");
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
}

/// The real MNIST files, when `MNIST_DIR` points at them (CI sets it).
#[test]
fn real_mnist_when_available() {
    let Some(dir) = std::env::var_os("MNIST_DIR") else {
        eprintln!("MNIST_DIR not set: real-MNIST checks skipped");
        return;
    };
    let mnist = Loader::mnist().dir(dir).download(false).load().unwrap();
    assert_eq!(mnist.train.len(), 60_000);
    assert_eq!(mnist.test.len(), 10_000);
    assert_eq!(mnist.train.label(0).unwrap(), 5);
    assert_eq!(
        mnist.train.class_counts(),
        vec![5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(
        mnist.test.class_counts(),
        vec![980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    let (train, validation) = mnist.train.split(&ValidationSplit::default()).unwrap();
    assert_eq!((train.len(), validation.len()), (48_000, 12_000));
}

/// Debian's `dataset-fashion-mnist`, when installed, is accepted through its content hashes.
#[test]
fn system_fashion_mnist_when_installed() {
    let spec = DatasetSpec::fashion_mnist();
    let dir = &spec.system_dirs[0];
    if !dir.exists() {
        eprintln!(
            "{} not installed: Fashion-MNIST check skipped",
            dir.display()
        );
        return;
    }
    let mnist = Loader::fashion_mnist()
        .dir(dir)
        .download(false)
        .load()
        .unwrap();
    assert_eq!((mnist.train.len(), mnist.test.len()), (60_000, 10_000));
    assert_eq!(mnist.train.class_counts(), vec![6000; 10]);
    assert_eq!(mnist.classes[9], "Ankle boot");
}

#[test]
fn empty_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let syn = synthetic(20, 10, dir.path());
    let mut files = syn.files.clone();
    files.insert("train-labels-idx1-ubyte.gz".into(), Vec::new());
    write_all(dir.path(), &files);
    let message = load(&syn.spec, dir.path()).unwrap_err().to_string();
    assert!(message.contains("train-labels-idx1-ubyte.gz"), "{message}");
    assert!(
        message.contains("0 bytes") && message.contains("truncated"),
        "{message}"
    );
}

#[test]
fn unreadable_file_is_an_error_naming_it() {
    // Root reads any file whatever its mode, so the unreadable file is a link to one that
    // fails on read: /proc/self/mem at offset 0 gives EIO.
    let dir = tempfile::tempdir().unwrap();
    let syn = synthetic(20, 10, dir.path());
    write_all(dir.path(), &syn.files);
    let name = dir.path().join("train-images-idx3-ubyte.gz");
    fs::remove_file(&name).unwrap();
    std::os::unix::fs::symlink("/proc/self/mem", &name).unwrap();
    let message = load(&syn.spec, dir.path()).unwrap_err().to_string();
    assert!(message.contains("train-images-idx3-ubyte.gz"), "{message}");
}

#[test]
fn gzip_bomb_is_refused() {
    let zeros = vec![0u8; idx::MAX_DECOMPRESSED + 1];
    let bomb = gzip(&zeros);
    drop(zeros);
    let err = idx::decompress_if_gzip(&bomb, Path::new("bomb.gz")).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("more than 256 MiB"), "{message}");
    assert!(message.contains("bomb.gz"), "{message}");
}

#[test]
fn stalled_mirror_times_out_within_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let mut syn = synthetic(20, 10, dir.path());
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    syn.spec.mirrors = vec![format!("http://127.0.0.1:{port}/")];
    let options = DownloadOptions {
        connect_timeout: std::time::Duration::from_secs(1),
        transfer_timeout: std::time::Duration::from_secs(1),
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let err = Loader::new(syn.spec.clone())
        .dir(dir.path())
        .download_options(options)
        .load()
        .unwrap_err();
    // One bounded attempt per missing file (four files).
    assert!(started.elapsed().as_secs() < 15, "{:?}", started.elapsed());
    let message = err.to_string();
    assert!(message.contains("could not be downloaded"), "{message}");
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
}

#[test]
fn columns_and_permuted_pixels_keep_every_pixel_and_label() {
    let _rng = crate::torch_rng_lock();
    let data = crate::testutil::synthetic(3, 9, false);
    let columns = data.columns_as_steps();
    assert_eq!(columns.images().size(), [3, 28, 28]);
    assert!(columns
        .images()
        .get(1)
        .get(5)
        .equal(&data.images().get(1).select(1, 5)));
    assert!(columns.columns_as_steps().images().equal(data.images()));
    let permuted = data.permuted_pixels(7);
    assert!(permuted.labels().equal(data.labels()));
    assert!(!permuted.images().equal(data.images()));
    // Every image keeps its pixels, in one order shared by all images and fixed by the seed.
    let sorted = |t: &Tensor| t.flatten(1, -1).sort(1, false).0;
    assert!(sorted(permuted.images()).equal(&sorted(data.images())));
    assert!(permuted.images().equal(data.permuted_pixels(7).images()));
    assert!(!permuted.images().equal(data.permuted_pixels(8).images()));
    let first_pixel = |d: &Dataset| d.images().flatten(1, -1).select(1, 0);
    let source = (0..784)
        .find(|&k| {
            data.images()
                .flatten(1, -1)
                .select(1, k)
                .equal(&first_pixel(&permuted))
        })
        .unwrap();
    assert!(first_pixel(&permuted).equal(&data.images().flatten(1, -1).select(1, source)));
}
