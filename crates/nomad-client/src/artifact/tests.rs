//! Unit tests of sources, destinations and archive checks.

use super::*;

#[test]
fn sources_and_destinations() {
    let s = parse_source(
        "https://h/x.tar.gz?checksum=sha256:AB&archive=false&v=1",
        &Default::default(),
    )
    .unwrap();
    assert_eq!(s.url, "https://h/x.tar.gz?v=1");
    assert_eq!(s.checksum, Some(("sha256".into(), "ab".into())));
    assert_eq!(s.archive, Some(false));
    assert!(parse_source("http://h/x?checksum=crc:1", &Default::default()).is_err());
    let root = Path::new("/t");
    assert_eq!(
        join_inside(root, "local/a").unwrap(),
        Path::new("/t/local/a")
    );
    assert_eq!(join_inside(root, "local/../x").unwrap(), Path::new("/t/x"));
    assert!(join_inside(root, "../x").is_err());
    assert!(join_inside(root, "/etc").is_err());
    assert_eq!(archive_kind("http://h/a.TGZ"), Some(ArchiveKind::TarGz));
    assert_eq!(archive_kind("http://h/a.zip?x=1"), Some(ArchiveKind::Zip));
    assert_eq!(base_name("http://h/dir/file.bin?x"), "file.bin");
}

#[test]
fn tar_with_escaping_entry_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "evil", "/etc/passwd").unwrap();
    let bytes = b.into_inner().unwrap();
    let err = untar(&bytes[..], d.path()).unwrap_err();
    assert!(matches!(err, ArtifactError::Escapes(_)), "{err}");
}

/// A tar whose entries are written as given (no validation), so that
/// hostile archives can be built.
fn raw_tar(entries: &[(&str, tar::EntryType, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, kind, link) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_mode(0o644);
        h.set_size(0);
        let name = &mut h.as_gnu_mut().unwrap().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        if !link.is_empty() {
            let l = &mut h.as_gnu_mut().unwrap().linkname;
            l[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_cksum();
        b.append(&h, &[][..]).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn hostile_archives_are_refused_before_anything_is_written() {
    use tar::EntryType::{Directory, Link, Regular, Symlink};
    let refused: &[&[(&str, tar::EntryType, &str)]] = &[
        &[("../evil", Regular, "")],
        &[("/etc/evil", Regular, "")],
        &[("a/../../evil", Regular, "")],
        &[("ok", Regular, ""), ("l", Symlink, "../outside")],
        &[("l", Symlink, "/etc")],
        // A link to "." looks harmless; "d/.." through it is the
        // destination's parent.
        &[("d", Symlink, "."), ("d2", Symlink, "d/..")],
        &[("d", Symlink, "sub"), ("d/x", Regular, "")],
        &[("h", Link, "../../etc/passwd")],
        &[("l", Symlink, "x"), ("l", Regular, "")],
    ];
    for entries in refused {
        let bytes = raw_tar(entries);
        let err = check_tar(&bytes[..]).unwrap_err();
        assert!(
            matches!(err, ArtifactError::Escapes(_)),
            "{entries:?}: {err}"
        );
    }
    let fine = raw_tar(&[
        ("./", Directory, ""),
        ("lib/", Directory, ""),
        ("lib/libx.so.1", Regular, ""),
        ("lib/libx.so", Symlink, "libx.so.1"),
        ("bin/", Directory, ""),
        ("bin/tool", Symlink, "../lib/libx.so"),
        ("bin/hard", Link, "lib/libx.so.1"),
    ]);
    check_tar(&fine[..]).unwrap();
    let d = tempfile::tempdir().unwrap();
    untar(&fine[..], d.path()).unwrap();
    assert!(d.path().join("bin/tool").exists());
}

#[test]
fn resolve_inside_follows_links_on_disk() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    fs::create_dir_all(root.join("local/sub")).unwrap();
    std::os::unix::fs::symlink("sub", root.join("local/in")).unwrap();
    std::os::unix::fs::symlink("../..", root.join("local/up")).unwrap();
    std::os::unix::fs::symlink("/etc", root.join("local/abs")).unwrap();
    assert_eq!(
        resolve_inside(root, "local/in/x").unwrap(),
        root.join("local/sub/x")
    );
    assert_eq!(
        resolve_inside(root, "new/dir").unwrap(),
        root.join("new/dir")
    );
    assert!(resolve_inside(root, "local/up/x").is_err());
    assert!(resolve_inside(root, "local/abs").is_err());
    assert!(resolve_inside(root, "../x").is_err());
    std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
    assert!(resolve_inside(root, "loop/x").is_err());
}

#[test]
fn zip_unpacks() {
    let d = tempfile::tempdir().unwrap();
    let zpath = d.path().join("a.zip");
    {
        let mut w = zip::ZipWriter::new(File::create(&zpath).unwrap());
        let o: zip::write::SimpleFileOptions = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        w.start_file("dir/hello.txt", o).unwrap();
        w.write_all(b"hi").unwrap();
        w.finish().unwrap();
    }
    let out = d.path().join("out");
    unzip(File::open(&zpath).unwrap(), &out).unwrap();
    assert_eq!(fs::read(out.join("dir/hello.txt")).unwrap(), b"hi");
}
