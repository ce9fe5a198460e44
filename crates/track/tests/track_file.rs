//! Track files: reading values, `init_file`, and the inotify watcher on real files.

use std::fs;
use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use keepalived_track::{FileValue, FileWatcher, init_file, read_value};

/// How long a test waits for an expected report.
const WAIT: Duration = Duration::from_secs(5);

/// A temp dir removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!(
            "keepalived-trackfile-{tag}-{}-{n}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Waits (at most [`WAIT`]) for a report of `index` with `want`, skipping other reports.
async fn expect(w: &mut FileWatcher, index: usize, want: FileValue) {
    let found = tokio::time::timeout(WAIT, async {
        let mut seen = Vec::new();
        loop {
            match w.next().await {
                Some((i, v)) if i == index && v == want => return Ok(()),
                Some(other) => seen.push(other),
                None => return Err(seen),
            }
        }
    })
    .await;
    match found {
        Ok(Ok(())) => {}
        Ok(Err(seen)) => panic!("watcher ended before ({index}, {want:?}); saw {seen:?}"),
        Err(_) => panic!("no ({index}, {want:?}) within {WAIT:?}"),
    }
}

/// Asserts that nothing is reported for `quiet`.
async fn expect_nothing(w: &mut FileWatcher, quiet: Duration) {
    if let Ok(got) = tokio::time::timeout(quiet, w.next()).await {
        panic!("unexpected report {got:?}");
    }
}

/// Takes the start-up reports (one per path, in order).
async fn initial(w: &mut FileWatcher, n: usize) -> Vec<FileValue> {
    let mut values = Vec::new();
    for want in 0..n {
        let got = tokio::time::timeout(WAIT, w.next())
            .await
            .expect("initial report in time")
            .expect("watcher alive");
        assert_eq!(got.0, want, "initial reports come in index order");
        values.push(got.1);
    }
    values
}

#[test]
fn read_value_of_real_files() {
    let dir = TempDir::new("read");
    let p = dir.path("v");
    assert_eq!(read_value(&p), FileValue::Missing);
    fs::write(&p, "42\n").expect("write");
    assert_eq!(read_value(&p), FileValue::Number(42));
    fs::write(&p, "  -0x1A junk").expect("write");
    assert_eq!(read_value(&p), FileValue::Number(-26));
    fs::write(&p, "").expect("write");
    assert_eq!(read_value(&p), FileValue::NotANumber);
    fs::write(&p, "up").expect("write");
    assert_eq!(read_value(&p), FileValue::NotANumber);
    fs::write(&p, "4294967296").expect("write");
    assert_eq!(read_value(&p), FileValue::OutOfRange(4_294_967_296));
    // Only the first 127 bytes are read, as keepalived does.
    fs::write(&p, format!("{}7", " ".repeat(127))).expect("write");
    assert_eq!(read_value(&p), FileValue::NotANumber);
    fs::write(&p, format!("{}7", " ".repeat(126))).expect("write");
    assert_eq!(read_value(&p), FileValue::Number(7));
    // A directory on the way, or the path itself a directory.
    assert_eq!(read_value(&p.join("x")), FileValue::Missing);
    assert_eq!(
        read_value(&dir.0),
        FileValue::Unreadable("Is a directory".into())
    );
}

#[test]
fn read_value_of_a_fifo_does_not_block() {
    let dir = TempDir::new("fifo");
    let p = dir.path("fifo");
    nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = p.clone();
    std::thread::spawn(move || {
        let _ = tx.send(read_value(&reader));
    });
    let got = rx.recv_timeout(WAIT).expect("read_value returned in time");
    assert_eq!(got, FileValue::NotANumber);
}

#[test]
fn init_file_creates_and_keeps() {
    let dir = TempDir::new("init");
    let a = dir.path("a");
    init_file(&a, 0, false).expect("init a");
    assert_eq!(fs::read_to_string(&a).expect("read a"), "0\n");
    let b = dir.path("b");
    init_file(&b, -12, false).expect("init b");
    assert_eq!(fs::read_to_string(&b).expect("read b"), "-12\n");
    // An existing file is kept without overwrite.
    fs::write(&b, "3\n").expect("write b");
    init_file(&b, 7, false).expect("init b again");
    assert_eq!(fs::read_to_string(&b).expect("read b"), "3\n");
    assert_eq!(read_value(&b), FileValue::Number(3));
}

#[test]
fn init_file_overwrite_replaces_file_and_symlink() {
    let dir = TempDir::new("overwrite");
    let d = dir.path("d");
    fs::write(&d, "3\n").expect("write d");
    init_file(&d, 7, true).expect("overwrite d");
    assert_eq!(fs::read_to_string(&d).expect("read d"), "7\n");
    // overwrite on a missing file creates it.
    let e = dir.path("e");
    init_file(&e, 5, true).expect("overwrite e");
    assert_eq!(fs::read_to_string(&e).expect("read e"), "5\n");
    // A symlink is replaced by a file; its target is untouched.
    let target = dir.path("target");
    fs::write(&target, "3\n").expect("write target");
    let s = dir.path("s");
    symlink(&target, &s).expect("symlink");
    init_file(&s, 9, true).expect("overwrite s");
    assert!(
        !fs::symlink_metadata(&s)
            .expect("stat s")
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read_to_string(&s).expect("read s"), "9\n");
    assert_eq!(fs::read_to_string(&target).expect("read target"), "3\n");
    // No temporary file is left behind.
    let names: Vec<_> = fs::read_dir(&dir.0)
        .expect("list")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
}

#[test]
fn init_file_in_missing_directory_fails() {
    let dir = TempDir::new("nodir");
    let p = dir.path("nodir").join("f");
    let err = init_file(&p, 4, false).expect_err("no directory");
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    let err = init_file(&p, 4, true).expect_err("no directory");
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
}

#[tokio::test]
async fn watcher_reports_initial_values_then_a_write() {
    let dir = TempDir::new("write");
    let a = dir.path("a");
    let b = dir.path("b");
    fs::write(&a, "3\n").expect("write a");
    let mut w = FileWatcher::new(vec![a.clone(), b.clone()]).expect("watcher");
    assert!(w.unwatched().is_empty());
    assert_eq!(
        initial(&mut w, 2).await,
        vec![FileValue::Number(3), FileValue::Missing]
    );
    fs::write(&a, "5\n").expect("write a");
    expect(&mut w, 0, FileValue::Number(5)).await;
    fs::write(&a, "-2\n").expect("write a");
    expect(&mut w, 0, FileValue::Number(-2)).await;
}

#[tokio::test]
async fn watcher_sees_a_file_created_after_start() {
    let dir = TempDir::new("create");
    let a = dir.path("a");
    let mut w = FileWatcher::new(vec![a.clone()]).expect("watcher");
    assert_eq!(initial(&mut w, 1).await, vec![FileValue::Missing]);
    fs::write(&a, "9\n").expect("write a");
    expect(&mut w, 0, FileValue::Number(9)).await;
}

#[tokio::test]
async fn watcher_sees_rename_into_place_and_away() {
    let dir = TempDir::new("rename");
    let a = dir.path("a");
    fs::write(&a, "1\n").expect("write a");
    let mut w = FileWatcher::new(vec![a.clone()]).expect("watcher");
    assert_eq!(initial(&mut w, 1).await, vec![FileValue::Number(1)]);
    let tmp = dir.path(".a.swp");
    fs::write(&tmp, "7\n").expect("write tmp");
    fs::rename(&tmp, &a).expect("rename into place");
    expect(&mut w, 0, FileValue::Number(7)).await;
    fs::rename(&a, dir.path("a.old")).expect("rename away");
    expect(&mut w, 0, FileValue::Missing).await;
}

#[tokio::test]
async fn watcher_sees_a_delete() {
    let dir = TempDir::new("delete");
    let a = dir.path("a");
    fs::write(&a, "4\n").expect("write a");
    let mut w = FileWatcher::new(vec![a.clone()]).expect("watcher");
    assert_eq!(initial(&mut w, 1).await, vec![FileValue::Number(4)]);
    fs::remove_file(&a).expect("delete a");
    expect(&mut w, 0, FileValue::Missing).await;
}

#[tokio::test]
async fn watcher_waits_for_close_and_filters_by_name() {
    let dir = TempDir::new("close");
    let a = dir.path("a");
    let b = dir.path("b");
    fs::write(&a, "0\n").expect("write a");
    let mut w = FileWatcher::new(vec![a.clone(), b.clone()]).expect("watcher");
    initial(&mut w, 2).await;
    // Other files in the directory are not reported.
    fs::write(dir.path("other"), "5\n").expect("write other");
    expect_nothing(&mut w, Duration::from_millis(300)).await;
    // A write is seen when the file is closed.
    let mut file = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&a)
        .expect("open a");
    file.write_all(b"6\n").expect("write a");
    file.flush().expect("flush");
    expect_nothing(&mut w, Duration::from_millis(300)).await;
    drop(file);
    expect(&mut w, 0, FileValue::Number(6)).await;
    // Only b's index for b.
    fs::write(&b, "2\n").expect("write b");
    let got = tokio::time::timeout(WAIT, w.next())
        .await
        .expect("report in time");
    assert_eq!(got, Some((1, FileValue::Number(2))));
}

#[tokio::test]
async fn watcher_sees_a_symlink_put_in_place() {
    let dir = TempDir::new("symlink");
    let a = dir.path("a");
    let target = dir.path("target");
    fs::write(&target, "8\n").expect("write target");
    let mut w = FileWatcher::new(vec![a.clone()]).expect("watcher");
    assert_eq!(initial(&mut w, 1).await, vec![FileValue::Missing]);
    symlink(&target, &a).expect("symlink");
    expect(&mut w, 0, FileValue::Number(8)).await;
}

#[tokio::test]
async fn watcher_survives_a_missing_directory() {
    let dir = TempDir::new("missingdir");
    let gone = dir.path("nodir").join("f");
    let a = dir.path("a");
    let mut w = FileWatcher::new(vec![gone.clone(), a.clone()]).expect("watcher");
    assert_eq!(w.unwatched(), &[0]);
    assert_eq!(
        initial(&mut w, 2).await,
        vec![FileValue::Missing, FileValue::Missing]
    );
    fs::write(&a, "3\n").expect("write a");
    expect(&mut w, 1, FileValue::Number(3)).await;
}

#[tokio::test]
async fn watcher_reports_files_of_a_removed_directory() {
    let dir = TempDir::new("rmdir");
    let sub = dir.path("sub");
    fs::create_dir(&sub).expect("mkdir");
    let a = sub.join("a");
    fs::write(&a, "5\n").expect("write a");
    let mut w = FileWatcher::new(vec![a.clone()]).expect("watcher");
    assert_eq!(initial(&mut w, 1).await, vec![FileValue::Number(5)]);
    fs::remove_dir_all(&sub).expect("rm -r");
    expect(&mut w, 0, FileValue::Missing).await;
    // Once the directory is gone its watch is dropped.
    let deadline = tokio::time::Instant::now() + WAIT;
    while w.unwatched() != [0] {
        assert!(tokio::time::Instant::now() < deadline, "watch not dropped");
        let _ = tokio::time::timeout(Duration::from_millis(100), w.next()).await;
    }
}

#[test]
fn watcher_works_on_a_current_thread_runtime_with_a_local_set() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    let dir = TempDir::new("local");
    let a = dir.path("a");
    local.block_on(&rt, async {
        let mut w = FileWatcher::new(vec![a.clone()]).expect("watcher");
        initial(&mut w, 1).await;
        let writer = a.clone();
        tokio::task::spawn_local(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            fs::write(&writer, "11\n").expect("write a");
        });
        expect(&mut w, 0, FileValue::Number(11)).await;
    });
}

#[test]
fn watcher_outside_a_runtime_is_an_error() {
    let dir = TempDir::new("nort");
    let err = FileWatcher::new(vec![dir.path("a")]).expect_err("no runtime");
    assert!(err.to_string().contains("outside a tokio runtime"), "{err}");
}
