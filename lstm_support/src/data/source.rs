//! Which files make a dataset, their checksums, where they are looked for, and how missing ones
//! are downloaded.
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use md5::Md5;
use sha2::{Digest, Sha256};

use crate::error::DataError;

/// A checksum as published for a file, lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checksum {
    Sha256(String),
    Md5(String),
}

impl Checksum {
    pub fn algorithm(&self) -> &'static str {
        match self {
            Checksum::Sha256(_) => "SHA-256",
            Checksum::Md5(_) => "MD5",
        }
    }

    pub fn expected(&self) -> &str {
        match self {
            Checksum::Sha256(hex) | Checksum::Md5(hex) => hex,
        }
    }

    fn hasher(&self) -> Hasher {
        match self {
            Checksum::Sha256(_) => Hasher::Sha256(Sha256::new()),
            Checksum::Md5(_) => Hasher::Md5(Md5::new()),
        }
    }

    /// The same algorithm's digest of `bytes`, as lowercase hex.
    pub fn compute(&self, bytes: &[u8]) -> String {
        let mut hasher = self.hasher();
        hasher.update(bytes);
        hasher.finish()
    }
}

/// Incremental form of [`Checksum::compute`], so downloads are hashed while they stream.
enum Hasher {
    Sha256(Sha256),
    Md5(Md5),
}

impl Hasher {
    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Md5(h) => h.update(bytes),
        }
    }

    fn finish(self) -> String {
        match self {
            Hasher::Sha256(h) => hex(&h.finalize()),
            Hasher::Md5(h) => hex(&h.finalize()),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of some bytes as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Checksum::Sha256(String::new()).compute(bytes)
}

/// One file of a dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// File name as published, e.g. `train-images-idx3-ubyte.gz`.
    pub name: String,
    /// Checksum of the published (gzipped) file; downloads must match it.
    pub published: Checksum,
    /// SHA-256 of the decompressed IDX bytes. A local copy that is stored uncompressed, or was
    /// recompressed (Debian's Fashion-MNIST package is), is accepted when its content matches.
    pub content_sha256: String,
}

impl FileSpec {
    pub fn new(name: &str, published: Checksum, content_sha256: &str) -> Self {
        FileSpec {
            name: name.to_owned(),
            published,
            content_sha256: content_sha256.to_owned(),
        }
    }

    /// The names under which a local copy is accepted: as published, and without `.gz`.
    pub fn candidate_names(&self) -> Vec<String> {
        let mut names = vec![self.name.clone()];
        if let Some(stem) = self.name.strip_suffix(".gz") {
            names.push(stem.to_owned());
        }
        names
    }

    /// Checks a local copy: either its bytes are the published file, or its decompressed
    /// content is. `content` is the decompressed IDX data of `raw`.
    pub fn verify(&self, raw: &[u8], content: &[u8], path: &Path) -> Result<(), DataError> {
        if raw.starts_with(&[0x1f, 0x8b]) {
            let actual = self.published.compute(raw);
            if actual == self.published.expected() || sha256_hex(content) == self.content_sha256 {
                return Ok(());
            }
            return Err(DataError::ChecksumMismatch {
                path: path.to_owned(),
                algorithm: self.published.algorithm(),
                expected: self.published.expected().to_owned(),
                actual,
            });
        }
        let actual = sha256_hex(content);
        if actual == self.content_sha256 {
            return Ok(());
        }
        Err(DataError::ChecksumMismatch {
            path: path.to_owned(),
            algorithm: "SHA-256 (of the uncompressed file)",
            expected: self.content_sha256.clone(),
            actual,
        })
    }
}

/// Everything needed to find, fetch and verify one MNIST-format dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetSpec {
    /// Shown in messages, e.g. `MNIST`.
    pub name: String,
    /// Environment variable naming a directory that holds the files, e.g. `MNIST_DIR`.
    pub env_var: String,
    /// Where the files are looked for, and downloaded to, when neither an explicit directory nor
    /// the environment variable is given.
    pub default_dir: PathBuf,
    /// Read-only places used when they hold every file, e.g. a system package's directory.
    pub system_dirs: Vec<PathBuf>,
    /// Base URLs tried in order; a file's URL is the base followed by its name.
    pub mirrors: Vec<String>,
    pub train_images: FileSpec,
    pub train_labels: FileSpec,
    pub test_images: FileSpec,
    pub test_labels: FileSpec,
    /// Class names, index = label.
    pub classes: Vec<String>,
}

/// The project's root directory: `data/<dataset>` lives there whatever the current directory
/// (notebooks run in `notebooks/`, binaries anywhere).
fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

impl DatasetSpec {
    /// The original MNIST digits, with the published SHA-256 of each file and the mirror list
    /// torchvision uses.
    pub fn mnist() -> Self {
        DatasetSpec {
            name: "MNIST".into(),
            env_var: "MNIST_DIR".into(),
            default_dir: project_root().join("data").join("mnist"),
            system_dirs: vec![],
            mirrors: vec![
                "https://ossci-datasets.s3.amazonaws.com/mnist/".into(),
                "http://yann.lecun.com/exdb/mnist/".into(),
            ],
            train_images: FileSpec::new(
                "train-images-idx3-ubyte.gz",
                Checksum::Sha256(
                    "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609".into(),
                ),
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            ),
            train_labels: FileSpec::new(
                "train-labels-idx1-ubyte.gz",
                Checksum::Sha256(
                    "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c".into(),
                ),
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            ),
            test_images: FileSpec::new(
                "t10k-images-idx3-ubyte.gz",
                Checksum::Sha256(
                    "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6".into(),
                ),
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            ),
            test_labels: FileSpec::new(
                "t10k-labels-idx1-ubyte.gz",
                Checksum::Sha256(
                    "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6".into(),
                ),
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            ),
            classes: (0..10).map(|d| d.to_string()).collect(),
        }
    }

    /// Zalando's Fashion-MNIST: the MD5s its authors publish (torchvision's), and content
    /// hashes that also accept Debian's `dataset-fashion-mnist` copies (recompressed).
    pub fn fashion_mnist() -> Self {
        DatasetSpec {
            name: "Fashion-MNIST".into(),
            env_var: "FASHION_MNIST_DIR".into(),
            default_dir: project_root().join("data").join("fashion-mnist"),
            system_dirs: vec![PathBuf::from("/usr/share/datasets/fashion-mnist")],
            mirrors: vec!["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/".into()],
            train_images: FileSpec::new(
                "train-images-idx3-ubyte.gz",
                Checksum::Md5("8d4fb7e6c68d591d4c3dfef9ec88bf0d".into()),
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            ),
            train_labels: FileSpec::new(
                "train-labels-idx1-ubyte.gz",
                Checksum::Md5("25c81989df183df01b3e8a0aad5dffbe".into()),
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            ),
            test_images: FileSpec::new(
                "t10k-images-idx3-ubyte.gz",
                Checksum::Md5("bef4ecab320f06d8554ea6380940ec79".into()),
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            ),
            test_labels: FileSpec::new(
                "t10k-labels-idx1-ubyte.gz",
                Checksum::Md5("bb300cfdad3c16e7a12a480ee83cd310".into()),
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            ),
            classes: [
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ]
            .map(String::from)
            .to_vec(),
        }
    }

    pub fn files(&self) -> [&FileSpec; 4] {
        [
            &self.train_images,
            &self.train_labels,
            &self.test_images,
            &self.test_labels,
        ]
    }
}

/// Where the files of a dataset are taken from, and why (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    pub path: PathBuf,
    pub reason: String,
}

/// Picks the directory: the explicit one, else `$env_var`, else a system directory that holds
/// every file, else the default directory.
pub fn resolve_dir(spec: &DatasetSpec, explicit: Option<&Path>) -> DataDir {
    if let Some(path) = explicit {
        return DataDir {
            path: path.to_owned(),
            reason: "the directory given explicitly".into(),
        };
    }
    if let Some(value) = std::env::var_os(&spec.env_var).filter(|v| !v.is_empty()) {
        return DataDir {
            path: PathBuf::from(value),
            reason: format!("from {}", spec.env_var),
        };
    }
    for dir in &spec.system_dirs {
        if spec.files().iter().all(|f| find_file(dir, f).is_some()) {
            return DataDir {
                path: dir.clone(),
                reason: "the system copy".into(),
            };
        }
    }
    DataDir {
        path: spec.default_dir.clone(),
        reason: format!("the default, as {} is not set", spec.env_var),
    }
}

/// The local copy of `file` in `dir`, under any accepted name.
pub fn find_file(dir: &Path, file: &FileSpec) -> Option<PathBuf> {
    file.candidate_names()
        .into_iter()
        .map(|name| dir.join(name))
        .find(|path| path.exists())
}

/// How downloads behave; every network wait is bounded.
#[derive(Debug, Clone)]
pub struct DownloadOptions {
    pub connect_timeout: Duration,
    /// Limit on the whole transfer of one file.
    pub transfer_timeout: Duration,
    /// Files larger than this are refused (the largest MNIST-format file is 26 MB).
    pub max_bytes: u64,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            connect_timeout: Duration::from_secs(15),
            transfer_timeout: Duration::from_secs(300),
            max_bytes: 64 << 20,
        }
    }
}

/// Downloads `file` into `dir` from the first mirror that serves it with the published
/// checksum. The data goes to a temporary file in `dir` that is renamed into place only once
/// verified, so a partial or corrupt download never takes the file's name.
/// On failure, returns one line per mirror saying what went wrong.
pub fn download(
    dir: &Path,
    file: &FileSpec,
    mirrors: &[String],
    options: &DownloadOptions,
) -> Result<PathBuf, Vec<String>> {
    if mirrors.is_empty() {
        return Err(vec!["no download mirror is configured".into()]);
    }
    if let Err(e) = fs::create_dir_all(dir) {
        return Err(vec![format!("cannot create {}: {e}", dir.display())]);
    }
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(options.connect_timeout)
        .timeout(options.transfer_timeout)
        .build();
    let target = dir.join(&file.name);
    let mut attempts = Vec::new();
    for mirror in mirrors {
        let url = format!("{mirror}{}", file.name);
        match fetch_verified(&agent, &url, file, &target, options) {
            Ok(()) => return Ok(target),
            Err(why) => attempts.push(format!("  {url}: {why}")),
        }
    }
    Err(attempts)
}

/// A temporary file that is deleted unless it was renamed into place.
struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn fetch_verified(
    agent: &ureq::Agent,
    url: &str,
    file: &FileSpec,
    target: &Path,
    options: &DownloadOptions,
) -> Result<(), String> {
    let response = agent.get(url).call().map_err(|e| e.to_string())?;
    let dir = target.parent().unwrap_or(Path::new("."));
    let mut temp = TempFile {
        path: dir.join(format!(".{}.{}.part", file.name, std::process::id())),
        keep: false,
    };
    let mut out = fs::File::create(&temp.path)
        .map_err(|e| format!("cannot create {}: {e}", temp.path.display()))?;
    let mut hasher = file.published.hasher();
    let mut reader = response.into_reader().take(options.max_bytes + 1);
    let mut buffer = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buffer).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > options.max_bytes {
            return Err(format!("larger than {} bytes, refused", options.max_bytes));
        }
        hasher.update(&buffer[..n]);
        out.write_all(&buffer[..n])
            .map_err(|e| format!("cannot write {}: {e}", temp.path.display()))?;
    }
    let actual = hasher.finish();
    if actual != file.published.expected() {
        return Err(format!(
            "served a file whose {} is {actual}, expected {}; not kept",
            file.published.algorithm(),
            file.published.expected()
        ));
    }
    out.sync_all()
        .map_err(|e| format!("cannot write {}: {e}", temp.path.display()))?;
    drop(out);
    fs::rename(&temp.path, target)
        .map_err(|e| format!("cannot rename into {}: {e}", target.display()))?;
    temp.keep = true;
    Ok(())
}
