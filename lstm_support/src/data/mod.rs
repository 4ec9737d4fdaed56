//! MNIST-format data: loading and verifying the four IDX files, the tensors, and the
//! train/validation split.
//!
//! ```no_run
//! use lstm_support::data::{load_mnist, ValidationSplit};
//! let mnist = load_mnist()?; // explicit dir > $MNIST_DIR > data/mnist/ (downloaded if absent)
//! let (train, validation) = mnist.train.split(&ValidationSplit::default())?; // 48,000 / 12,000
//! // `mnist.test` is a `TestSet`: training code cannot take it, only evaluation can.
//! # Ok::<(), lstm_support::Error>(())
//! ```
pub mod idx;
mod remembering;
pub mod source;

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

pub use remembering::RememberingTask;
pub use source::{Checksum, DataDir, DatasetSpec, DownloadOptions, FileSpec};

use crate::error::{DataError, Error, Result};
use crate::rng::SplitMix64;

/// Image side in pixels; every image is a sequence of `ROWS` time steps of `ROWS` features.
pub const ROWS: usize = 28;

/// Checks that int64 `labels` are class indices, in `0..num_classes` (none is fine).
pub(crate) fn check_classes(labels: &Tensor, num_classes: usize) -> Result<()> {
    if labels.numel() == 0 {
        return Ok(());
    }
    let (min, max) = (
        labels.f_min()?.f_int64_value(&[])?,
        labels.f_max()?.f_int64_value(&[])?,
    );
    if min < 0 || max >= num_classes as i64 {
        return Err(Error::invalid(
            "labels",
            format!(
                "expected class indices from 0 to {}, got values from {min} to {max}",
                num_classes.saturating_sub(1)
            ),
        ));
    }
    Ok(())
}

/// Images and labels held as tensors on the CPU: MNIST's images, or any other sequences of
/// `[steps, features]` (such as [`RememberingTask`]'s).
#[derive(Debug)]
pub struct Dataset {
    /// `[N, T, F]` f32: `[N, 28, 28]` in [0, 1] for MNIST.
    images: Tensor,
    /// `[N]`, i64 class indices.
    labels: Tensor,
    num_classes: usize,
}

impl Dataset {
    /// Wraps tensors after checking shapes and kinds: images `[N, T, F]` (MNIST's
    /// `[N, 28, 28]`: 28 steps, the rows, of 28 features, the pixels), converted to f32; labels
    /// `[N]` int64 in `0..num_classes`.
    pub fn new(images: Tensor, labels: Tensor, num_classes: usize) -> Result<Self> {
        let image_size = images.size();
        if !matches!(image_size.as_slice(), [_, steps, features] if *steps > 0 && *features > 0) {
            return Err(Error::invalid(
                "images",
                format!(
                    "shape {image_size:?}, expected [N, T, F]: N sequences of T > 0 steps of \
                     F > 0 features (MNIST: [N, {ROWS}, {ROWS}])"
                ),
            ));
        }
        if labels.size() != [image_size[0]] {
            return Err(Error::invalid(
                "labels",
                format!(
                    "shape {:?}, expected [{}] to match the images",
                    labels.size(),
                    image_size[0]
                ),
            ));
        }
        let labels = labels.to_kind(Kind::Int64);
        check_classes(&labels, num_classes)?;
        Ok(Dataset {
            images: images.to_kind(Kind::Float),
            labels,
            num_classes,
        })
    }

    pub fn len(&self) -> usize {
        self.labels.size()[0] as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// `[N, T, F]` f32: N sequences of T time steps of F features; for MNIST `[N, 28, 28]` in
    /// [0, 1], 28 steps (rows) of 28 features.
    pub fn images(&self) -> &Tensor {
        &self.images
    }

    /// `[N]` i64 class indices.
    pub fn labels(&self) -> &Tensor {
        &self.labels
    }

    /// The label of item `index`, or an error naming the valid range.
    pub fn label(&self, index: usize) -> Result<i64> {
        self.check_index(index)?;
        Ok(self.labels.int64_value(&[index as i64]))
    }

    /// Image (sequence) `index` as `[T, F]`, `[28, 28]` for MNIST.
    pub fn image(&self, index: usize) -> Result<Tensor> {
        self.check_index(index)?;
        Ok(self.images.get(index as i64))
    }

    fn check_index(&self, index: usize) -> Result<()> {
        if index >= self.len() {
            return Err(Error::invalid(
                "index",
                format!(
                    "{index} is past the end of a dataset of {} items",
                    self.len()
                ),
            ));
        }
        Ok(())
    }

    /// How many items each class has, index = class.
    pub fn class_counts(&self) -> Vec<i64> {
        let counts = self
            .labels
            .bincount::<Tensor>(None, self.num_classes as i64);
        Vec::<i64>::try_from(counts).unwrap_or_default()
    }

    /// The items at `indices`, in that order.
    pub fn select(&self, indices: &[i64]) -> Result<Dataset> {
        if let Some(&bad) = indices.iter().find(|&&i| i < 0 || i >= self.len() as i64) {
            return Err(Error::invalid(
                "index",
                format!("{bad} is outside a dataset of {} items", self.len()),
            ));
        }
        let index = Tensor::from_slice(indices);
        Ok(Dataset {
            images: self.images.index_select(0, &index),
            labels: self.labels.index_select(0, &index),
            num_classes: self.num_classes,
        })
    }

    /// 16 hex digits of the SHA-256 of the images and labels: equal datasets (the same items
    /// in the same order, in any view such as [`Dataset::columns_as_steps`]) have equal
    /// fingerprints. What a cached result computed from this data is keyed by.
    pub fn fingerprint(&self) -> Result<String> {
        let images = Vec::<f32>::try_from(self.images.to_device(tch::Device::Cpu).flatten(0, -1))
            .map_err(|e| Error::invalid("images", format!("cannot be read back ({e})")))?;
        let labels = Vec::<i64>::try_from(self.labels.to_device(tch::Device::Cpu))
            .map_err(|e| Error::invalid("labels", format!("cannot be read back ({e})")))?;
        let mut bytes = Vec::with_capacity(images.len() * 4 + labels.len() * 8 + 8);
        bytes.extend((self.num_classes as u64).to_le_bytes());
        bytes.extend(images.iter().flat_map(|v| v.to_le_bytes()));
        bytes.extend(labels.iter().flat_map(|v| v.to_le_bytes()));
        Ok(source::sha256_hex(&bytes)[..16].to_owned())
    }

    /// The first `n` items (all of them when `n` is larger), e.g. for a quick run.
    pub fn take(&self, n: usize) -> Dataset {
        let n = n.min(self.len()) as i64;
        Dataset {
            images: self.images.narrow(0, 0, n),
            labels: self.labels.narrow(0, 0, n),
            num_classes: self.num_classes,
        }
    }

    /// The same images read column by column: each image transposed, so that a recurrent
    /// model's step t is column t (left to right) instead of row t.
    pub fn columns_as_steps(&self) -> Dataset {
        Dataset {
            images: self.images.transpose(1, 2).contiguous(),
            labels: self.labels.shallow_clone(),
            num_classes: self.num_classes,
        }
    }

    /// "Permuted MNIST": the 784 pixels of every image put in one fixed random order (drawn
    /// from `seed`), then read 28 at a time as before. Every image keeps its pixels, but a
    /// step's 28 features are no longer neighbours. Use the same `seed` for every split.
    pub fn permuted_pixels(&self, seed: u64) -> Dataset {
        let size = self.images.size();
        let pixels = size[1..].iter().product::<i64>();
        let mut order: Vec<i64> = (0..pixels).collect();
        SplitMix64::new(seed).shuffle(&mut order);
        let order = Tensor::from_slice(&order).to_device(self.images.device());
        Dataset {
            images: self
                .images
                .flatten(1, -1)
                .index_select(1, &order)
                .view(size.as_slice()),
            labels: self.labels.shallow_clone(),
            num_classes: self.num_classes,
        }
    }

    /// Splits into (train, validation) as `split` says. See [`ValidationSplit`].
    pub fn split(&self, split: &ValidationSplit) -> Result<(Dataset, Dataset)> {
        split.validate()?;
        let n = self.len();
        let n_validation = (n as f64 * split.validation_fraction).round() as usize;
        if n_validation == 0 || n_validation == n {
            return Err(Error::invalid(
                "validation split",
                format!(
                    "a fraction of {} of {n} items leaves an empty training or validation set",
                    split.validation_fraction
                ),
            ));
        }
        let mut order: Vec<i64> = (0..n as i64).collect();
        if split.shuffle {
            SplitMix64::new(split.seed).shuffle(&mut order);
        }
        let (train, validation) = order.split_at(n - n_validation);
        Ok((self.select(train)?, self.select(validation)?))
    }

    /// Image `index` drawn as text, one line per row (time step), darker characters for more
    /// ink: what the recurrent network reads, row by row. Rows are numbered from 1, as the
    /// notebooks count steps and rows.
    pub fn ascii_image(&self, index: usize) -> Result<String> {
        let image = self.image(index)?;
        let width = image.size().last().copied().unwrap_or(1).max(1) as usize;
        let image = Vec::<f32>::try_from(image.flatten(0, -1))?;
        const SHADES: [char; 5] = [' ', '.', ':', '+', '#'];
        let mut out = String::new();
        for (row, pixels) in (1..).zip(image.chunks(width)) {
            out.push_str(&format!("row {row:2} |"));
            for &p in pixels {
                let shade =
                    ((p * (SHADES.len() - 1) as f32).round() as usize).min(SHADES.len() - 1);
                out.push(SHADES[shade]);
                out.push(SHADES[shade]);
            }
            out.push_str("|\n");
        }
        Ok(out)
    }
}

/// The test split. Deliberately a type of its own, with no access to its tensors from outside
/// the crate: no training function takes it, and only evaluation of a trained model reads it.
#[derive(Debug)]
pub struct TestSet(Dataset);

impl TestSet {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn class_counts(&self) -> Vec<i64> {
        self.0.class_counts()
    }

    /// The first `n` items, e.g. for a quick run.
    pub fn take(&self, n: usize) -> TestSet {
        TestSet(self.0.take(n))
    }

    /// For the crate's evaluation code only.
    pub(crate) fn dataset(&self) -> &Dataset {
        &self.0
    }

    /// For the crate's tests only: anything else gets a test set from a loader.
    #[cfg(test)]
    pub(crate) fn from_dataset(data: Dataset) -> Self {
        TestSet(data)
    }
}

/// How the 60,000 training images are divided into training and validation sets.
///
/// With `shuffle` (the default) the items are shuffled with `seed` first, so both sets are
/// random samples, and the same seed always gives the same split. With `shuffle: false` the
/// last `validation_fraction` of the items form the validation set, as Keras'
/// `validation_split` does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationSplit {
    pub validation_fraction: f64,
    pub shuffle: bool,
    pub seed: u64,
}

impl Default for ValidationSplit {
    fn default() -> Self {
        ValidationSplit {
            validation_fraction: 0.2,
            shuffle: true,
            seed: 42,
        }
    }
}

impl ValidationSplit {
    /// Keras' `validation_split`: the last `fraction` of the items, unshuffled.
    pub fn keras_tail(fraction: f64) -> Self {
        ValidationSplit {
            validation_fraction: fraction,
            shuffle: false,
            seed: 0,
        }
    }

    pub fn validate(&self) -> Result<()> {
        let f = self.validation_fraction;
        if !(f > 0.0 && f < 1.0) {
            return Err(Error::invalid(
                "validation_fraction",
                format!("{f}; it must be strictly between 0 and 1 (0.2 keeps 20% for validation)"),
            ));
        }
        Ok(())
    }
}

/// A loaded dataset: the training images (to split into training and validation) and the test
/// images, kept apart.
#[derive(Debug)]
pub struct Mnist {
    pub train: Dataset,
    pub test: TestSet,
    /// The directory the files were read from.
    pub dir: PathBuf,
    /// Class names, index = label.
    pub classes: Vec<String>,
}

impl Mnist {
    /// e.g. "60,000 training and 10,000 test images of 28 x 28 pixels (floats in [0, 1]),
    /// labels 0-9, read from ../shared/data/mnist": what was loaded, with the directory shown
    /// relative to the project.
    pub fn describe(&self) -> String {
        let size = self.train.images().size();
        let (height, width) = (
            size.get(1).copied().unwrap_or(0),
            size.get(2).copied().unwrap_or(0),
        );
        format!(
            "{} training and {} test images of {height} x {width} pixels (floats in [0, 1]), \
             {} classes ({}), read from {}",
            crate::table::thousands(self.train.len() as u64),
            crate::table::thousands(self.test.len() as u64),
            self.classes.len(),
            self.classes.join(", "),
            crate::fsutil::display_path(&self.dir)
        )
    }

    /// Images per class in the training and the test set.
    pub fn class_counts_table(&self) -> crate::table::Table {
        use crate::table::{thousands, Align, Table};
        let rows = self
            .classes
            .iter()
            .zip(self.train.class_counts())
            .zip(self.test.class_counts())
            .map(|((name, train), test)| {
                vec![
                    name.clone(),
                    thousands(train as u64),
                    thousands(test as u64),
                ]
            })
            .collect();
        Table {
            caption: "Images per class".into(),
            header: ["class", "training", "test"].map(String::from).to_vec(),
            align: vec![Align::Left, Align::Right, Align::Right],
            rows,
        }
    }
}

/// Loads MNIST from the usual places (see [`Loader`]).
pub fn load_mnist() -> Result<Mnist> {
    Loader::mnist().load()
}

/// Loads Fashion-MNIST from the usual places (see [`Loader`]).
pub fn load_fashion_mnist() -> Result<Mnist> {
    Loader::fashion_mnist().load()
}

/// Finds, verifies and reads the files of an MNIST-format dataset.
///
/// The directory is the one given with [`Loader::dir`], else `$MNIST_DIR` (`$FASHION_MNIST_DIR`),
/// else `data/mnist/` at the project root. Missing files are downloaded there from the
/// spec's mirrors unless [`Loader::download`] turned that off. Every file must match its
/// published checksum.
#[derive(Debug, Clone)]
pub struct Loader {
    spec: DatasetSpec,
    dir: Option<PathBuf>,
    download: bool,
    download_options: DownloadOptions,
}

impl Loader {
    pub fn new(spec: DatasetSpec) -> Self {
        Loader {
            spec,
            dir: None,
            download: true,
            download_options: DownloadOptions::default(),
        }
    }

    pub fn mnist() -> Self {
        Loader::new(DatasetSpec::mnist())
    }

    pub fn fashion_mnist() -> Self {
        Loader::new(DatasetSpec::fashion_mnist())
    }

    /// Reads from this directory, whatever the environment says.
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// Whether missing files are downloaded (default: yes).
    pub fn download(mut self, download: bool) -> Self {
        self.download = download;
        self
    }

    pub fn download_options(mut self, options: DownloadOptions) -> Self {
        self.download_options = options;
        self
    }

    pub fn spec(&self) -> &DatasetSpec {
        &self.spec
    }

    /// The directory [`Loader::load`] will use, and why.
    pub fn resolve_dir(&self) -> DataDir {
        source::resolve_dir(&self.spec, self.dir.as_deref())
    }

    pub fn load(&self) -> Result<Mnist> {
        let dir = self.resolve_dir();
        let spec = &self.spec;
        let path_of = |file: &FileSpec| self.obtain(&dir, file);
        let (train_images_path, train_labels_path) =
            (path_of(&spec.train_images)?, path_of(&spec.train_labels)?);
        let (test_images_path, test_labels_path) =
            (path_of(&spec.test_images)?, path_of(&spec.test_labels)?);
        let num_classes = spec.classes.len();
        let train = read_pair(
            (&train_images_path, &spec.train_images),
            (&train_labels_path, &spec.train_labels),
            num_classes,
        )?;
        let test = read_pair(
            (&test_images_path, &spec.test_images),
            (&test_labels_path, &spec.test_labels),
            num_classes,
        )?;
        Ok(Mnist {
            train,
            test: TestSet(test),
            dir: dir.path,
            classes: spec.classes.clone(),
        })
    }

    /// The path of a local copy of `file`, downloading it first when it is missing.
    fn obtain(&self, dir: &DataDir, file: &FileSpec) -> Result<PathBuf> {
        if let Some(path) = source::find_file(&dir.path, file) {
            return Ok(path);
        }
        let attempts = if self.download {
            match source::download(&dir.path, file, &self.spec.mirrors, &self.download_options) {
                Ok(path) => return Ok(path),
                Err(attempts) => attempts.join("\n"),
            }
        } else {
            "  downloading is turned off".to_owned()
        };
        let files: Vec<&str> = self.spec.files().iter().map(|f| f.name.as_str()).collect();
        Err(DataError::Missing {
            dataset: self.spec.name.clone(),
            dir: dir.path.clone(),
            file: file.name.clone(),
            details: format!(
                "({}) and could not be downloaded:\n{attempts}\nCopy the four files ({}) into {}, or set {} to a directory that holds them.",
                dir.reason,
                files.join(", "),
                dir.path.display(),
                self.spec.env_var
            ),
        }
        .into())
    }
}

/// An IDX file that parsed, and the outcome of checking it against its checksum.
struct CheckedIdx {
    array: idx::IdxArray,
    checksum: Result<(), DataError>,
}

/// Reads and parses one IDX file of `ndims` dimensions and checks its checksum. The checksum's
/// verdict is reported only after the caller's own checks, because "truncated", "wrong magic"
/// or "label 10" say more than "checksum mismatch".
fn read_idx(path: &Path, file: &FileSpec, ndims: usize) -> Result<CheckedIdx, DataError> {
    let raw = fs::read(path).map_err(|source| DataError::Io {
        path: path.to_owned(),
        source,
    })?;
    let content = idx::decompress_if_gzip(&raw, path)?;
    let array = idx::parse(&content, ndims, path)?;
    let checksum = file.verify(&raw, &content, path);
    Ok(CheckedIdx { array, checksum })
}

/// Reads an images file and its labels file into a [`Dataset`].
fn read_pair(
    (images_path, images_spec): (&Path, &FileSpec),
    (labels_path, labels_spec): (&Path, &FileSpec),
    num_classes: usize,
) -> Result<Dataset> {
    let CheckedIdx {
        array: images,
        checksum: images_checksum,
    } = read_idx(images_path, images_spec, 3)?;
    if images.dims[1..] != [ROWS, ROWS] {
        return Err(DataError::BadDimensions {
            path: images_path.to_owned(),
            found: images.dims,
            expected: format!("[N, {ROWS}, {ROWS}]"),
        }
        .into());
    }
    let CheckedIdx {
        array: labels,
        checksum: labels_checksum,
    } = read_idx(labels_path, labels_spec, 1)?;
    if images.dims[0] != labels.dims[0] {
        return Err(DataError::CountMismatch {
            images: images_path.to_owned(),
            n_images: images.dims[0],
            labels: labels_path.to_owned(),
            n_labels: labels.dims[0],
        }
        .into());
    }
    if let Some((index, &label)) = labels
        .data
        .iter()
        .enumerate()
        .find(|(_, &l)| usize::from(l) >= num_classes)
    {
        return Err(DataError::BadLabel {
            path: labels_path.to_owned(),
            index,
            label,
            max: (num_classes - 1) as u8,
        }
        .into());
    }
    images_checksum?;
    labels_checksum?;
    let n = images.dims[0] as i64;
    let images = Tensor::from_slice(&images.data)
        .view([n, ROWS as i64, ROWS as i64])
        .to_kind(Kind::Float)
        / 255.0;
    let labels = Tensor::from_slice(&labels.data).to_kind(Kind::Int64);
    Dataset::new(images, labels, num_classes)
}

#[cfg(test)]
mod tests;
